// Writing the report: the figures come from a Python script (matplotlib), which the apps run (the libraries
// never start a process), then REPORT.md from the library. Used by `sageval report` and `sageval validate`.
#pragma once

#include <string>

namespace sageval::cli {

// Runs the plotting script (scripts/plot_report.py, or $SAGEVAL_PLOTTER) over a report directory. Returns ""
// when it ran, otherwise why there are no figures (no python3, no matplotlib, or the script's failure).
std::string render_figures(const std::string& dir);

// Figures (unless `figures` is false or the run did not finish), then the report at `out` (empty: DIR/REPORT.md,
// or DIR/REPORT.incomplete.md for a run that did not finish) from the records in `dir`; prints the report's path
// and the verdict and returns its exit code: 0 PASS, 1 FAIL, 2 no verdict (the run did not finish).
int write_report(const std::string& dir, const std::string& out, bool figures);

}  // namespace sageval::cli
