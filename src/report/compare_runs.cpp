// `sageval report --compare OLD NEW`: what changed between two runs (a baseline and a PR): every gate whose
// verdict or measured value moved, and every timed configuration beyond its noise margin.
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "report/json_errors.h"
#include "report/markdown.h"
#include "sageval/perf/regression.h"
#include "sageval/report/report.h"

namespace sageval::report {

using nlohmann::json;

namespace {

// Kernel benchmark shapes as timed figures, keyed like the model benchmark's entries.
std::vector<perf::TimedFigure> kernel_figures(const json& doc) {
  std::vector<perf::TimedFigure> out;
  if (!doc.is_object()) return out;
  const json shapes = doc.value("shapes", json::array());
  for (const json& s : shapes) {
    const json variants = s.value("variants", json::object());  // named: items() of a temporary would dangle
    for (const auto& [variant, v] : variants.items())
      if (v.value("status", "") == "ok")
        out.push_back({fmt::format("kernel/D{}_N{}{}/{}", s.at("head_dim").get<int64_t>(), s.at("seq").get<int64_t>(),
                                   s.at("causal").get<bool>() ? "_Causal" : "", variant),
                       {v.at("median_ms").get<double>(), v.at("min_ms").get<double>(), v.at("max_ms").get<double>(), 0}});
  }
  return out;
}

std::vector<perf::TimedFigure> all_timed(const RunData& run) {
  std::vector<perf::TimedFigure> out = kernel_figures(run.kernel_bench);
  if (run.model_bench.is_object()) {
    auto model = perf::timed_figures_of(run.model_bench);
    out.insert(out.end(), model.begin(), model.end());
  }
  return out;
}

std::string label(const RunData& run) {
  if (run.run_info.is_object() && run.run_info.contains("commit"))
    return fmt::format("`{}` (commit {}, {})", run.dir, run.run_info.value("commit", "?"), run.run_info.value("date", "?"));
  return fmt::format("`{}`", run.dir);
}

}  // namespace

namespace {
std::string render_comparison_unchecked(const RunData& old_run, const RunData& new_run) {
  std::string out = fmt::format("# sageval: run comparison\n\n- old: {}\n- new: {}\n\n", label(old_run), label(new_run));
  const bool old_pass = run_passes(old_run), new_pass = run_passes(new_run);
  out += fmt::format("**Verdict: {} → {}**\n\n", old_pass ? "PASS" : "FAIL", new_pass ? "PASS" : "FAIL");

  using Key = std::tuple<std::string, std::string, std::string>;
  std::map<Key, VerdictRow> before, after;
  for (const VerdictRow& r : verdict_rows(old_run)) before[{r.suite, r.subject, r.gate}] = r;
  for (const VerdictRow& r : verdict_rows(new_run)) after[{r.suite, r.subject, r.gate}] = r;
  MarkdownTable gates({"suite", "subject", "gate", "old", "new", "old verdict", "new verdict"});
  int unchanged = 0;
  for (const auto& [key, r] : after) {
    const auto it = before.find(key);
    if (it == before.end()) {
      gates.row({r.suite, r.subject, "`" + r.gate + "`", "(not run)", r.measured, "-", pass_text(r.pass)});
    } else if (it->second.measured != r.measured || it->second.pass != r.pass) {
      gates.row({r.suite, r.subject, "`" + r.gate + "`", it->second.measured, r.measured, pass_text(it->second.pass),
                 pass_text(r.pass)});
    } else {
      ++unchanged;
    }
  }
  for (const auto& [key, r] : before)
    if (!after.count(key)) gates.row({r.suite, r.subject, "`" + r.gate + "`", r.measured, "(not run)", pass_text(r.pass), "-"});
  out += fmt::format("## Gates\n\n{} gates unchanged.\n\n", unchanged);
  if (!gates.empty()) out += gates.str() + "\n";

  const auto changes = perf::compare_timings(all_timed(old_run), all_timed(new_run));
  MarkdownTable slow({"configuration", "status", "old median ms", "new median ms", "change", "noise margin"});
  int compared = 0, regressions = 0, faster = 0, missing = 0;
  for (const auto& c : changes) {
    compared += c.status == "compared";
    faster += c.status == "compared" && c.change < -c.margin;
    missing += c.status == "missing_in_new";
    if (!c.regressed || c.status != "compared") continue;
    ++regressions;
    slow.row({c.key, c.status, fmt::format("{:.4f}", c.old_median_ms), fmt::format("{:.4f}", c.new_median_ms),
              fmt::format("{:+.1f}%", 100 * c.change), fmt::format("{:.1f}%", 100 * c.margin)});
  }
  out += fmt::format("## Timings\n\n{} timed configurations compared: {} slower beyond their noise margin (the larger of "
                     "5% and either run's (max - min) / median), {} faster beyond it; {} configurations of the old run "
                     "did not run in the new one.\n\n",
                     compared, regressions, faster, missing);
  if (!slow.empty()) out += slow.str() + "\n";
  return out;
}

}  // namespace

std::string render_comparison(const RunData& old_run, const RunData& new_run) {
  return with_named_json_errors(old_run.dir + "' or '" + new_run.dir,
                                [&] { return render_comparison_unchecked(old_run, new_run); });
}

}  // namespace sageval::report
