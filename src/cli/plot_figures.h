// The report's figures come from a Python script (matplotlib): the apps run it, the libraries never start a
// process.
#pragma once

#include <string>

namespace sageval::cli {

// Runs the plotting script (scripts/plot_report.py, or $SAGEVAL_PLOTTER) over a report directory. Returns ""
// when it ran, otherwise why there are no figures (no python3, no matplotlib, or the script's failure).
std::string render_figures(const std::string& dir);

}  // namespace sageval::cli
