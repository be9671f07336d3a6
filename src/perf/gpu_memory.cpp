#include "sageval/perf/gpu_memory.h"

#include <stdexcept>
#include <string>

#include <c10/util/Exception.h>

#ifdef SAGEVAL_WITH_CUDA_KERNELS
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime.h>

#include "sageval/kernels/cuda_check.h"
#include "sageval/kernel_bridge.h"
#endif

namespace sageval::perf {

nlohmann::json GpuMemory::to_json() const {
  return {{"allocated", allocated},     {"peak_allocated", peak_allocated}, {"reserved", reserved},
          {"device_used", device_used}, {"device_total", device_total}};
}

#ifdef SAGEVAL_WITH_CUDA_KERNELS
namespace {
c10::DeviceIndex current_device() { return c10::cuda::current_device(); }
}  // namespace

GpuMemory gpu_memory_now() {
  SAGEVAL_CUDA_CHECK(cudaDeviceSynchronize());
  // Index 0 of each stat array is the aggregate over small and large pools.
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(current_device());
  size_t free_bytes = 0, total_bytes = 0;
  SAGEVAL_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  GpuMemory m;
  m.allocated = stats.allocated_bytes[0].current;
  m.peak_allocated = stats.allocated_bytes[0].peak;
  m.reserved = stats.reserved_bytes[0].current;
  m.device_used = static_cast<int64_t>(total_bytes - free_bytes);
  m.device_total = static_cast<int64_t>(total_bytes);
  return m;
}

void reset_gpu_peak() {
  SAGEVAL_CUDA_CHECK(cudaDeviceSynchronize());
  c10::cuda::CUDACachingAllocator::resetPeakStats(current_device());
}

void release_cached_gpu_memory() {
  SAGEVAL_CUDA_CHECK(cudaDeviceSynchronize());
  c10::cuda::CUDACachingAllocator::emptyCache();
}

int64_t sage_int8_workspace_bytes(const AttentionShape& shape, bool bf16) {
  const auto problem = make_kernel_problem(shape, false, 1.0, bf16 ? at::kBFloat16 : at::kHalf);
  return kernels::sage_int8_workspace_layout(problem).total_bytes;
}
#else
namespace {
[[noreturn]] void no_cuda(const char* what) {
  throw std::runtime_error(std::string(what) + ": this build has no CUDA (libtorch without CUDA)");
}
}  // namespace
GpuMemory gpu_memory_now() { no_cuda("gpu_memory_now"); }
void reset_gpu_peak() { no_cuda("reset_gpu_peak"); }
void release_cached_gpu_memory() { no_cuda("release_cached_gpu_memory"); }
int64_t sage_int8_workspace_bytes(const AttentionShape&, bool) { return 0; }
#endif

bool is_out_of_memory(const std::exception& e) {
  if (dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr) return true;
  const std::string what = e.what();
  return what.find("out of memory") != std::string::npos;
}

}  // namespace sageval::perf
