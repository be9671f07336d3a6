// How every throughput figure is timed (as FlashAttention's benchmarks do):
// warm-up calls first, then one measurement per call, summarized as median, min and max.
#pragma once

#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

namespace sageval::perf {

struct Timing {
  double median_ms = 0.0, min_ms = 0.0, max_ms = 0.0;
  int runs = 0;
  // (max - min) / median: the run-to-run spread that regression checks take as their noise margin.
  double spread() const { return median_ms > 0 ? (max_ms - min_ms) / median_ms : 0.0; }
  nlohmann::json to_json() const;
};

Timing summarize_times(std::vector<double> ms);

// `call(i)` is given the run index, so callers can rotate input sets (i % sets) and keep small cases from
// living in L2. CUDA events on the current stream around each call; the host synchronizes once at the end,
// so launch latency is hidden exactly as it is in a real pipeline that stays ahead of the device.
// Throws where this build has no CUDA.
Timing time_gpu_calls(const std::function<void(int)>& call, int warmup, int iters);

// Host wall clock per call, the device synchronized before and after each: for figures that end on the host
// (time to first token ends when the token id is in host memory).
Timing time_host_calls(const std::function<void(int)>& call, int warmup, int iters);

}  // namespace sageval::perf
