// The `sageval` subcommands. Each add_* registers its subcommand and options on the app (CLI11); when that
// subcommand is the one given, `run` is set to what runs it. main() parses, then calls `run`.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace sageval::cli {

using Run = std::function<int()>;

void add_backends_command(CLI::App& app, Run& run);
void add_check_command(CLI::App& app, Run& run);
void add_model_commands(CLI::App& app, Run& run);  // generate, logits, prefill-speed, nll
void add_plan_command(CLI::App& app, Run& run);
void add_report_command(CLI::App& app, Run& run);
void add_resource_spec_command(CLI::App& app, Run& run);
void add_validate_command(CLI::App& app, Run& run);

}  // namespace sageval::cli
