// GPU memory as two observers see it: libtorch's caching allocator (bytes handed to tensors, their peak, bytes
// reserved from the driver) and the driver (cudaMemGetInfo: used = total - free, every process and context).
#pragma once

#include <cstdint>
#include <exception>
#include <string>

#include <nlohmann/json.hpp>

#include "sageval/attention_inputs.h"

namespace sageval::perf {

struct GpuMemory {
  int64_t allocated = 0;       // caching allocator: bytes in live tensors
  int64_t peak_allocated = 0;  // ... its peak since reset_gpu_peak()
  int64_t reserved = 0;        // ... bytes it holds from the driver
  int64_t device_used = 0;     // driver: total - free
  int64_t device_total = 0;
  nlohmann::json to_json() const;
};

// All three synchronize the device first. They throw where this build has no CUDA.
GpuMemory gpu_memory_now();
void reset_gpu_peak();
void release_cached_gpu_memory();

// Whether `e` is an allocation failure (libtorch's OutOfMemoryError, or a CUDA "out of memory" message).
bool is_out_of_memory(const std::exception& e);

// Bytes of the sage_int8 quantization workspace (INT8 Q and K, scales, K mean, fp16 V where V is bf16) for
// one attention call of this shape; 0 where this build has no CUDA kernels.
int64_t sage_int8_workspace_bytes(const AttentionShape& shape, bool bf16);

}  // namespace sageval::perf
