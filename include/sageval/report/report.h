// The validation report: reads what one run wrote into its report directory (the suites' JSON-lines records,
// the kernel and model benchmark documents, run.json from the main job) and renders REPORT.md for a reviewer:
// verdicts first, then the evidence, then the machine and the commands. Also compares two runs.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sageval::report {

struct RunData {
  std::string dir;
  // suite -> records in file order; a case recorded twice (a rerun) keeps its last record only.
  std::map<std::string, std::vector<nlohmann::json>> records;
  nlohmann::json kernel_bench;  // attention_kernel_bench.json (else sageval_attention_bench_quick.json), or null
  nlohmann::json model_bench;   // model_bench.json (else sageval_model_bench_quick.json), or null
  nlohmann::json plan_bench;    // model_bench_plan.json: prefill with the precision plan beside its candidate, or null
  nlohmann::json run_info;      // run.json (main job: commit, date, commands, suites run or skipped), or null
  std::vector<std::string> figures;  // PNG files under dir/figures, relative to dir
  // Record lines that could not be read ("perplexity.jsonl:7: ..."), e.g. the last line of a run cut short:
  // the rest is read, the report says it is incomplete, and the verdict cannot pass.
  std::vector<std::string> unreadable;
};

// A missing directory or an unreadable run.json/benchmark file throws, naming it; a malformed record line is
// listed in `unreadable` and the rest of its file is read.
RunData load_run(const std::string& dir);
// The PNG files under dir/figures, relative to dir, sorted (what load_run lists for a finished run).
std::vector<std::string> figure_files(const std::string& dir);

// One row of the verdict table: a gate aggregated over the cases of a suite that share its name pattern.
struct VerdictRow {
  std::string suite, subject, gate, measured, threshold;
  int cases = 0, failed = 0;
  bool pass = true;
};
std::vector<VerdictRow> verdict_rows(const RunData& run);
bool run_passes(const RunData& run);

// A run with a precision plan (`sageval validate --precision-plan`: model-suite records carrying
// figures.precision_plan, suite steps tagged in run.json) is judged two ways: the candidate everywhere (the plan's
// records and steps left out) and with the plan (the candidate's own records of the suites the plan ran, and
// their step, left out). Absent without a plan.
struct PlanVerdicts {
  std::string label;  // e.g. "sage_int8 (layer 0 on fp16)"
  bool candidate_everywhere_passes = false;
  bool with_plan_passes = false;
};
std::optional<PlanVerdicts> plan_verdicts(const RunData& run);

// Why the run did not finish, from run.json's "incomplete" (a step killed or stopped by an error, the main job
// interrupted, or a run still under way or killed outright); empty for a finished run. An unfinished run's
// verdict cannot pass.
std::vector<std::string> incomplete_reasons(const RunData& run);
// Where the report of this run goes by default: DIR/REPORT.md for a finished run, DIR/REPORT.incomplete.md for an
// unfinished one, so that the last finished run's REPORT.md stays whole.
std::string default_report_path(const RunData& run);

std::string render_report(const RunData& run);
std::string render_comparison(const RunData& old_run, const RunData& new_run);

}  // namespace sageval::report
