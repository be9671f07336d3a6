// The device's copy bandwidth, measured in the benchmark's own run: the yardstick for memory-bound kernels
// (quantization, decode attention). A 1 GiB device-to-device copy timed like the kernels; bytes moved count the
// read and the write.
#pragma once

#include <cstdint>
#include <functional>

#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <cuda_runtime.h>
#include <nlohmann/json.hpp>

#include "sageval/kernels/cuda_check.h"
#include "sageval/perf/timing.h"

namespace sageval::bench {

inline double gb_per_s(double bytes, double ms) { return bytes / (ms * 1e-3) / 1e9; }

// {"status": "ok", "bytes_moved", "median_ms", "min_ms", "max_ms", "gb_per_s_median", "gb_per_s_best"}, or the
// status and message of the failure.
inline nlohmann::json measure_copy_bandwidth(int warmup, int iters) {
  constexpr int64_t kBytes = int64_t{1} << 30;
  try {
    const auto bytes = at::TensorOptions().dtype(at::kByte).device(at::kCUDA);
    at::Tensor src = at::empty({kBytes}, bytes).random_(), dst = at::empty({kBytes}, bytes);
    const perf::Timing t = perf::time_gpu_calls(
        [&](int) {
          SAGEVAL_CUDA_CHECK(cudaMemcpyAsync(dst.data_ptr(), src.data_ptr(), kBytes, cudaMemcpyDeviceToDevice,
                                             at::cuda::getCurrentCUDAStream().stream()));
        },
        warmup, iters);
    return {{"status", "ok"}, {"bytes_moved", 2 * kBytes}, {"median_ms", t.median_ms}, {"min_ms", t.min_ms},
            {"max_ms", t.max_ms}, {"gb_per_s_median", gb_per_s(2.0 * kBytes, t.median_ms)},
            {"gb_per_s_best", gb_per_s(2.0 * kBytes, t.min_ms)}};
  } catch (const std::exception& e) {
    return {{"status", "error"}, {"message", e.what()}};
  }
}

}  // namespace sageval::bench
