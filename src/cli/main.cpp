// `sageval`: the command-line entry point. `sageval --help` and `sageval COMMAND --help` list the commands and
// their options. Exit codes (sageval/app/options.h): 0 success or PASS, 1 FAIL, 2 bad input or any error.
#include <c10/util/Exception.h>
#include <fmt/format.h>

#include "cli/commands.h"
#include "sageval/app/options.h"

int main(int argc, char** argv) {
  CLI::App app{"sageval: accuracy and speed of 8-bit attention against FP16 and float64 references"};
  app.require_subcommand(1);
  sageval::cli::Run run;
  sageval::cli::add_validate_command(app, run);
  sageval::cli::add_check_command(app, run);
  sageval::cli::add_backends_command(app, run);
  sageval::cli::add_model_commands(app, run);
  sageval::cli::add_plan_command(app, run);
  sageval::cli::add_report_command(app, run);
  sageval::cli::add_resource_spec_command(app, run);
  if (const int rc = sageval::app::parse(app, argc, argv); rc >= 0) return rc;
  const std::string command = app.get_subcommands().front()->get_name();
  // One line per error: libtorch's own errors carry a C++ backtrace in what(), which helps nobody here.
  try {
    return run();
  } catch (const c10::Error& e) {
    fmt::print(stderr, "sageval {}: error: {}\n", command, e.what_without_backtrace());
  } catch (const std::exception& e) {
    fmt::print(stderr, "sageval {}: error: {}\n", command, e.what());
  }
  return sageval::app::kExitError;
}
