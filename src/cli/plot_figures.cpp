#include "cli/plot_figures.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sageval/app/options.h"
#include "sageval/build_paths.h"
#include "sageval/record.h"
#include "sageval/report/report.h"

namespace sageval::cli {

namespace fs = std::filesystem;

std::string render_figures(const std::string& dir) {
  std::string script = SAGEVAL_SOURCE_DIR "/scripts/plot_report.py";
  if (const char* env = std::getenv("SAGEVAL_PLOTTER"); env != nullptr && *env != '\0') script = env;
  if (!fs::exists(script)) return fmt::format("plotting script '{}' not found", script);
  // The first Python that can import matplotlib: $SAGEVAL_PYTHON, python3 on the PATH (which may be a pyenv or
  // venv interpreter without it), the system's.
  std::vector<std::string> pythons = {"python3", "/usr/bin/python3"};
  if (const char* env = std::getenv("SAGEVAL_PYTHON"); env != nullptr && *env != '\0') pythons.insert(pythons.begin(), env);
  std::string python;
  for (const std::string& p : pythons)
    if (std::system(fmt::format("'{}' -c 'import matplotlib' > /dev/null 2>&1", p).c_str()) == 0) {
      python = p;
      break;
    }
  if (python.empty()) return "no python3 with matplotlib is installed (Debian: apt install python3-matplotlib)";
  const std::string log = (fs::path(dir) / "figures.log").string();
  const std::string cmd = fmt::format("'{}' '{}' '{}' > '{}' 2>&1", python, script, dir, log);
  if (std::system(cmd.c_str()) != 0) return fmt::format("the plotting script failed; see {}", log);
  return "";
}

int write_report(const std::string& dir, const std::string& out, bool figures) {
  report::RunData run = report::load_run(dir);
  // An unfinished run draws no figures: they would replace those the last finished run's REPORT.md shows.
  if (figures && report::incomplete_reasons(run).empty()) {
    const std::string why = render_figures(dir);
    if (!why.empty()) fmt::print("figures: none ({})\n", why);
    run.figures = report::figure_files(dir);  // the ones just drawn
  }
  const std::string path = out.empty() ? report::default_report_path(run) : out;
  write_file_atomically(path, report::render_report(run));  // an interrupted run leaves the previous report whole
  if (const auto reasons = report::incomplete_reasons(run); !reasons.empty()) {
    fmt::print("report: {}\nverdict: none, the run did not finish ({}){}\n", path, fmt::join(reasons, "; "),
               out.empty() ? "; REPORT.md is still the last finished run's" : "");
    return app::kExitError;
  }
  if (out.empty()) std::remove((fs::path(dir) / "REPORT.incomplete.md").c_str());  // stale once a run finishes
  // With a precision plan the verdict is the plan's (what the user would deploy); the report gives both.
  const auto plan = report::plan_verdicts(run);
  const bool pass = plan ? plan->with_plan_passes : report::run_passes(run);
  if (plan)
    fmt::print("report: {}\nverdict with the precision plan {}: {} ({} everywhere: {})\n", path, plan->label,
               pass ? "PASS" : "FAIL", run.run_info.value("candidate", "the candidate"),
               plan->candidate_everywhere_passes ? "PASS" : "FAIL");
  else
    fmt::print("report: {}\nverdict: {}\n", path, pass ? "PASS" : "FAIL");
  return pass ? 0 : app::kExitFail;
}

}  // namespace sageval::cli
