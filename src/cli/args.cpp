#include "cli/args.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace sageval::cli {

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto it = values.find(name);
  return it == values.end() ? fallback : it->second;
}

std::string Args::required(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end() || it->second.empty()) throw std::invalid_argument(fmt::format("--{} is required", name));
  return it->second;
}

int64_t Args::integer(const std::string& name, int64_t fallback) const {
  auto it = values.find(name);
  if (it == values.end()) return fallback;
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(it->second, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != it->second.size())
    throw std::invalid_argument(fmt::format("--{} expects an integer, got '{}'", name, it->second));
  return v;
}

double Args::real(const std::string& name, double fallback) const {
  auto it = values.find(name);
  if (it == values.end()) return fallback;
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(it->second, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != it->second.size())
    throw std::invalid_argument(fmt::format("--{} expects a number, got '{}'", name, it->second));
  return v;
}

Args parse_args(int argc, const char* const* argv, int first, const std::vector<std::string>& known,
                const std::vector<std::string>& switches) {
  Args args;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) throw std::invalid_argument(fmt::format("unexpected argument '{}'", a));
    std::string name = a.substr(2), value;
    const auto eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const bool is_switch = std::find(switches.begin(), switches.end(), name) != switches.end();
    const bool is_known = std::find(known.begin(), known.end(), name) != known.end();
    if (!is_switch && !is_known)
      throw std::invalid_argument(fmt::format("unknown option --{} (known: --{}{}{})", name, fmt::join(known, ", --"),
                                              switches.empty() ? "" : ", --", fmt::join(switches, ", --")));
    if (!is_switch && eq == std::string::npos) {
      if (i + 1 >= argc) throw std::invalid_argument(fmt::format("--{} needs a value", name));
      value = argv[++i];
    }
    args.values[name] = value;
  }
  return args;
}

at::ScalarType parse_dtype(const std::string& s) {
  if (s == "fp16" || s == "float16") return at::kHalf;
  if (s == "bf16" || s == "bfloat16") return at::kBFloat16;
  if (s == "fp32" || s == "float32") return at::kFloat;
  throw std::invalid_argument(fmt::format("dtype '{}' is not one of fp16, bf16, fp32", s));
}

}  // namespace sageval::cli
