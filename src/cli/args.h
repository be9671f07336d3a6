// Command-line parsing shared by the `sageval` subcommands.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/ATen.h>

namespace sageval::cli {

struct Args {
  std::map<std::string, std::string> values;
  bool flag(const std::string& name) const { return values.count(name) != 0; }
  std::string get(const std::string& name, const std::string& fallback) const;
  std::string required(const std::string& name) const;
  int64_t integer(const std::string& name, int64_t fallback) const;
  double real(const std::string& name, double fallback) const;
};

// Parses --name value / --name=value / --switch from argv[first..]. Unknown options are errors listing the known.
Args parse_args(int argc, const char* const* argv, int first, const std::vector<std::string>& known,
                const std::vector<std::string>& switches);

at::ScalarType parse_dtype(const std::string& name);  // fp16, bf16, fp32

int cmd_generate(int argc, const char* const* argv);
int cmd_logits(int argc, const char* const* argv);
int cmd_prefill_speed(int argc, const char* const* argv);
int cmd_nll(int argc, const char* const* argv);
int cmd_report(int argc, const char* const* argv);

}  // namespace sageval::cli
