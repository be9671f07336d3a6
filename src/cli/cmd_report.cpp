// `sageval report`: REPORT.md (and figures) from a run's records, exiting with the verdict; `--compare OLD NEW`:
// what changed between two runs.
#include <fstream>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/plot_figures.h"
#include "sageval/app/options.h"
#include "sageval/record.h"
#include "sageval/report/report.h"

namespace sageval::cli {
namespace {

struct ReportOptions {
  std::string dir = report_dir(), out;
  std::vector<std::string> compare;
  bool no_figures = false;
};


int run_report(const ReportOptions& o) {
  if (!o.compare.empty()) {
    const std::string text = report::render_comparison(report::load_run(o.compare[0]), report::load_run(o.compare[1]));
    if (o.out.empty()) {
      fmt::print("{}", text);
    } else {
      write_file_atomically(o.out, text);
      fmt::print("comparison: {}\n", o.out);
    }
    return 0;
  }
  return write_report(o.dir, o.out, !o.no_figures);
}

}  // namespace

void add_report_command(CLI::App& app, Run& run) {
  auto o = std::make_shared<ReportOptions>();
  CLI::App* sub = app.add_subcommand("report", "REPORT.md and figures from a run's records; exits 0 on PASS, 1 on "
                                               "FAIL; or, with --compare, what changed between two runs");
  sub->add_option("--dir", o->dir, "the run's report directory")->check(CLI::ExistingDirectory)->capture_default_str();
  sub->add_option("--out", o->out, "default: DIR/REPORT.md, or DIR/REPORT.incomplete.md for a run that did not finish "
                                   "(--compare: standard output)");
  sub->add_flag("--no-figures", o->no_figures, "do not run the plotting script");
  sub->add_option("--compare", o->compare, "OLD_DIR NEW_DIR")->expected(2)->check(CLI::ExistingDirectory);
  sub->callback([o, &run] { run = [o] { return run_report(*o); }; });
}

}  // namespace sageval::cli
