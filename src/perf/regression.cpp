#include "sageval/perf/regression.h"

#include <algorithm>
#include <map>

namespace sageval::perf {

std::vector<TimingChange> compare_timings(const std::vector<TimedFigure>& old_run,
                                          const std::vector<TimedFigure>& new_run, double margin_floor) {
  std::map<std::string, const Timing*> now;
  for (const TimedFigure& f : new_run) now[f.key] = &f.timing;
  std::vector<TimingChange> out;
  std::map<std::string, bool> seen;
  for (const TimedFigure& before : old_run) {
    TimingChange c;
    c.key = before.key;
    c.old_median_ms = before.timing.median_ms;
    seen[before.key] = true;
    const auto it = now.find(before.key);
    if (it == now.end()) {
      c.status = "missing_in_new";
      c.regressed = true;
    } else {
      const Timing& after = *it->second;
      c.status = "compared";
      c.new_median_ms = after.median_ms;
      c.change = before.timing.median_ms > 0 ? after.median_ms / before.timing.median_ms - 1.0 : 0.0;
      c.margin = std::max({margin_floor, before.timing.spread(), after.spread()});
      c.regressed = c.change > c.margin;
    }
    out.push_back(c);
  }
  for (const TimedFigure& f : new_run)
    if (!seen.count(f.key)) {
      TimingChange c;
      c.key = f.key;
      c.status = "new";
      c.new_median_ms = f.timing.median_ms;
      out.push_back(c);
    }
  return out;
}

nlohmann::json to_json(const TimingChange& c) {
  return {{"key", c.key},     {"status", c.status}, {"old_median_ms", c.old_median_ms}, {"new_median_ms", c.new_median_ms},
          {"change", c.change}, {"margin", c.margin}, {"regressed", c.regressed}};
}

std::vector<TimedFigure> timed_figures_of(const nlohmann::json& doc) {
  std::vector<TimedFigure> out;
  for (const char* section : {"prefill", "decode", "ttft"}) {
    if (!doc.contains(section)) continue;
    for (const nlohmann::json& e : doc.at(section)) {
      if (e.value("status", "") != "ok") continue;
      const nlohmann::json& t = e.at("timing");
      out.push_back({e.at("key").get<std::string>(),
                     {t.at("median_ms").get<double>(), t.at("min_ms").get<double>(), t.at("max_ms").get<double>(),
                      t.value("runs", 0)}});
    }
  }
  return out;
}

}  // namespace sageval::perf
