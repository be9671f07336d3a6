#include "sageval/perf/timing.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#ifdef SAGEVAL_WITH_CUDA_KERNELS
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <cuda_runtime.h>

#include "sageval/kernels/cuda_check.h"
#endif

namespace sageval::perf {

nlohmann::json Timing::to_json() const {
  return {{"median_ms", median_ms}, {"min_ms", min_ms}, {"max_ms", max_ms}, {"runs", runs}};
}

Timing summarize_times(std::vector<double> ms) {
  if (ms.empty()) throw std::invalid_argument("no timed runs to summarize");
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  return {n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2, ms.front(), ms.back(), static_cast<int>(n)};
}

namespace {
void check_iters(int warmup, int iters) {
  if (warmup < 0 || iters < 1) throw std::invalid_argument("timing needs warmup >= 0 and at least one timed run");
}

}  // namespace

Timing time_gpu_calls(const std::function<void(int)>& call, int warmup, int iters) {
  check_iters(warmup, iters);
#ifdef SAGEVAL_WITH_CUDA_KERNELS
  for (int i = 0; i < warmup; ++i) call(i);
  SAGEVAL_CUDA_CHECK(cudaGetLastError());
  std::vector<at::cuda::CUDAEvent> starts, stops;  // cudaEventDefault: CUDAEvent's default disables timing
  for (int i = 0; i < iters; ++i) starts.emplace_back(cudaEventDefault), stops.emplace_back(cudaEventDefault);
  const at::cuda::CUDAStream stream = at::cuda::getCurrentCUDAStream();
  for (int i = 0; i < iters; ++i) {
    starts[i].record(stream);
    call(i);
    stops[i].record(stream);
  }
  SAGEVAL_CUDA_CHECK(cudaGetLastError());
  stream.synchronize();
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) ms.push_back(starts[i].elapsed_time(stops[i]));
  return summarize_times(ms);
#else
  (void)call;
  throw std::runtime_error("time_gpu_calls: this build has no CUDA (libtorch without CUDA)");
#endif
}

Timing time_host_calls(const std::function<void(int)>& call, int warmup, int iters) {
  check_iters(warmup, iters);
  auto sync = [] {
#ifdef SAGEVAL_WITH_CUDA_KERNELS
    SAGEVAL_CUDA_CHECK(cudaDeviceSynchronize());
#endif
  };
  for (int i = 0; i < warmup; ++i) call(i);
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    sync();
    const auto t0 = std::chrono::steady_clock::now();
    call(i);
    sync();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return summarize_times(ms);
}

}  // namespace sageval::perf
