// Programmatic dependent launch (PTX ISA: griddepcontrol; CUDA programming guide: programmatic dependent launch;
// compute capability 9.0+): a kernel launched "early" may start its CTAs before the previous kernel on the stream
// completes, as soon as every CTA of that kernel has called let_dependents_launch (or exited); it must call
// wait_for_prerequisite_grid before it touches anything that kernel writes (the wait returns once the previous
// grid has completed and its writes are visible). What the early kernel does before the wait (its launch, its
// ramp, loads of inputs the previous kernel does not write) overlaps the previous kernel's tail.
// The device functions are no-ops where the architecture lacks them; the launch attribute is set only where the
// device runs sm_90+ code of the kernel (programmatic_launch_runs_here), since a build for older architectures
// reaches a 9.0 device as JIT-compiled PTX without the wait.
#pragma once

#include <cuda_runtime.h>

#include <map>
#include <mutex>
#include <utility>

#include "sageval/kernels/cuda_check.h"

namespace sageval::kernels {

__device__ __forceinline__ void let_dependents_launch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

__device__ __forceinline__ void wait_for_prerequisite_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Whether the code the current device runs for `kernel` has griddepcontrol (its virtual architecture is 9.0+);
// asked of the driver once per (kernel, device).
inline bool programmatic_launch_runs_here(const void* kernel) {
  static std::mutex mutex;
  static std::map<std::pair<const void*, int>, bool> known;
  int device = 0;
  SAGEVAL_CUDA_CHECK(cudaGetDevice(&device));
  const std::lock_guard<std::mutex> lock(mutex);
  auto it = known.find({kernel, device});
  if (it == known.end()) {
    cudaFuncAttributes attributes{};
    SAGEVAL_CUDA_CHECK(cudaFuncGetAttributes(&attributes, kernel));
    it = known.emplace(std::make_pair(kernel, device), attributes.ptxVersion >= 90).first;
  }
  return it->second;
}

// Launches kernel<<<grid, block, smem, stream>>>(args...), early (programmatic stream serialization) where `early`
// is set and the device runs the kernel's griddepcontrol.
template <typename... Params, typename... Args>
void launch_kernel(bool early, void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                   Args&&... args) {
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  if (early && programmatic_launch_runs_here(reinterpret_cast<const void*>(kernel))) {
    config.attrs = &attribute;
    config.numAttrs = 1;
  }
  SAGEVAL_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...));
}

}  // namespace sageval::kernels
