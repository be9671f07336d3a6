// `sageval report`: REPORT.md (and figures) from a run's records; `--compare OLD NEW`: what changed.
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "cli/args.h"
#include "sageval/record.h"
#include "sageval/report/report.h"

namespace sageval::cli {

namespace {
void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  if (!f) throw std::runtime_error(fmt::format("cannot write '{}'", path));
}
}  // namespace

int cmd_report(int argc, const char* const* argv) {
  // --compare takes two directories, which the one-value parser cannot express: take them out first.
  std::vector<const char*> rest = {argv[0], argv[1]};
  std::string old_dir, new_dir;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--compare") == 0) {
      if (i + 2 >= argc) throw std::invalid_argument("--compare needs two report directories: OLD NEW");
      old_dir = argv[i + 1];
      new_dir = argv[i + 2];
      i += 2;
    } else {
      rest.push_back(argv[i]);
    }
  }
  Args args = parse_args(static_cast<int>(rest.size()), rest.data(), 2, {"dir", "out"}, {"no-figures"});
  if (!old_dir.empty()) {
    const std::string text = report::render_comparison(report::load_run(old_dir), report::load_run(new_dir));
    if (args.flag("out")) {
      write_text(args.get("out", ""), text);
      fmt::print("comparison: {}\n", args.get("out", ""));
    } else {
      fmt::print("{}", text);
    }
    return 0;
  }
  const std::string dir = args.get("dir", report_dir());
  if (!args.flag("no-figures")) {
    const std::string why = report::render_figures(dir);
    if (!why.empty()) fmt::print("figures: none ({})\n", why);
  }
  const report::RunData run = report::load_run(dir);  // after plotting, so the figures are found
  const std::string out = args.get("out", dir + "/REPORT.md");
  write_text(out, report::render_report(run));
  const bool pass = report::run_passes(run);
  fmt::print("report: {}\nverdict: {}\n", out, pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;  // errors throw and exit 2 from main
}

}  // namespace sageval::cli
