// Comparing a benchmark run against a stored one. Each figure is a timed configuration (a key such as
// "prefill/sage_int8/B8_L4096") with its median, min and max. A change counts as a regression when the new
// median is slower than the old by more than the noise margin: the larger of the two runs' spreads
// ((max - min) / median) and a floor, so that noisy configurations do not raise false alarms.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sageval/perf/timing.h"

namespace sageval::perf {

struct TimedFigure {
  std::string key;
  Timing timing;
};

struct TimingChange {
  std::string key;
  std::string status;  // "compared", "missing_in_new" (a configuration that ran before and not now), "new"
  double old_median_ms = 0.0, new_median_ms = 0.0;
  double change = 0.0;  // new / old - 1 (positive: slower)
  double margin = 0.0;
  bool regressed = false;  // compared and change > margin, or missing_in_new
};

std::vector<TimingChange> compare_timings(const std::vector<TimedFigure>& old_run,
                                          const std::vector<TimedFigure>& new_run, double margin_floor = 0.05);

nlohmann::json to_json(const TimingChange& change);

// The timed figures of a benchmark document: every entry of its "prefill", "decode" and "ttft" arrays that ran
// ("status": "ok") with its "key" and "timing".
std::vector<TimedFigure> timed_figures_of(const nlohmann::json& bench_document);

}  // namespace sageval::perf
