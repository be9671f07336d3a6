// The command-line conventions every sageval program shares (the CLI, the benchmarks, the test executables),
// on CLI11: one option library, one definition of each shared option. Header-only; needs CLI11 (Debian:
// libcli11-dev).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <ATen/ATen.h>

#include "sageval/app/exit_codes.h"
#include "sageval/attention.h"

namespace sageval::app {

namespace detail {
// Options whose value falls back to an environment variable naming something unknown: an error when the
// option's command runs without the option given. (CLI11's own envname() is not used: some versions drop an
// environment value that fails a check without a word.)
struct EnvironmentError {
  const CLI::App* root;   // the program's top-level app, which parse() is called on
  const CLI::App* owner;  // the command the option belongs to
  const CLI::Option* option;
  std::string message;
};
inline std::vector<EnvironmentError>& environment_errors() {
  static std::vector<EnvironmentError> errors;
  return errors;
}
}  // namespace detail

// Accepts an attention backend this build can run: a registered name or a well-formed py:MODULE:FUNCTION.
inline CLI::Validator backend_name() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (has_backend(value)) return "";
        std::string known;
        for (const std::string& b : list_backends()) known += (known.empty() ? "" : ", ") + b;
        return value + " not in {" + known + "} nor a py:MODULE:FUNCTION this build can run";
      },
      "BACKEND");
}

// --attention-backend NAME, else the environment variable SAGEVAL_ATTENTION_BACKEND, else the value `name`
// holds when this is called. The name must be one this build can run, wherever it comes from.
inline CLI::Option* add_backend_option(CLI::App& app, std::string& name, const std::string& what) {
  CLI::Option* option =
      app.add_option("--attention-backend", name, what + " (or SAGEVAL_ATTENTION_BACKEND)")->check(backend_name());
  if (const char* env = std::getenv("SAGEVAL_ATTENTION_BACKEND"); env != nullptr && *env != '\0') {
    if (has_backend(env)) {
      name = env;
    } else {
      std::string known;
      for (const std::string& b : list_backends()) known += (known.empty() ? "" : ", ") + b;
      const CLI::App* root = &app;
      while (root->get_parent() != nullptr) root = root->get_parent();
      detail::environment_errors().push_back(
          {root, &app, option, "SAGEVAL_ATTENTION_BACKEND names unknown attention backend '" + std::string(env) + "' (available: " +
                       known + ")"});
    }
  }
  return option->capture_default_str();
}

// fp16 | bf16 | fp32 (or float16, bfloat16, float32).
inline at::ScalarType parse_dtype(const std::string& s) {
  if (s == "fp16" || s == "float16") return at::kHalf;
  if (s == "bf16" || s == "bfloat16") return at::kBFloat16;
  if (s == "fp32" || s == "float32") return at::kFloat;
  throw std::invalid_argument("dtype '" + s + "' is not one of fp16, bf16, fp32");
}
inline const std::vector<std::string>& dtype_names() {
  static const std::vector<std::string> names = {"fp16", "float16", "bf16", "bfloat16", "fp32", "float32"};
  return names;
}

// Parses; on --help prints it and returns 0, on a usage error prints one line naming it and returns
// kExitError; -1 when the program should go on.
inline int parse(CLI::App& app, int argc, const char* const* argv) {
  std::string program = argc > 0 ? argv[0] : "sageval";  // for the error line: the executable's name
  program = program.substr(program.find_last_of('/') + 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: error: %s (--help lists the options)\n", program.c_str(), e.what());
    return kExitError;
  }
  // This program's pending environment errors, taken out of the list (parse() runs once per program).
  std::vector<detail::EnvironmentError> mine;
  auto& all = detail::environment_errors();
  for (auto it = all.begin(); it != all.end();) {
    if (it->root == &app) {
      mine.push_back(*it);
      it = all.erase(it);
    } else {
      ++it;
    }
  }
  for (const detail::EnvironmentError& e : mine) {
    const bool runs = e.owner == &app || e.owner->parsed();
    if (runs && e.option->count() == 0) {
      std::fprintf(stderr, "%s: error: %s\n", program.c_str(), e.message.c_str());
      return kExitError;
    }
  }
  return -1;
}

}  // namespace sageval::app
