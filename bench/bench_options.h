// Command-line options of the benchmark executables: --name value or --name=value, flags without a value,
// comma-separated lists; an unknown option or a malformed value is an error that names it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>

namespace sageval::bench {

// Exit code of a run that measured nothing because no GPU is usable; ctest shows it as Skipped.
constexpr int kExitNoGpu = 77;

class OptionReader {
 public:
  OptionReader(int argc, char** argv, const std::vector<std::string>& known, const std::vector<std::string>& flags) {
    for (int i = 1; i < argc; ++i) {
      std::string name = argv[i], value;
      if (name.rfind("--", 0) != 0) throw std::invalid_argument(fmt::format("unexpected argument '{}'", name));
      name = name.substr(2);
      const size_t eq = name.find('=');
      const bool inline_value = eq != std::string::npos;
      if (inline_value) value = name.substr(eq + 1), name.resize(eq);
      if (std::find(known.begin(), known.end(), name) == known.end())
        throw std::invalid_argument(fmt::format("unknown option --{}", name));
      const bool is_flag = std::find(flags.begin(), flags.end(), name) != flags.end();
      if (!is_flag && !inline_value) {
        if (i + 1 >= argc) throw std::invalid_argument(fmt::format("--{} needs a value", name));
        value = argv[++i];
      }
      given_[name] = value;
    }
  }

  bool has(const std::string& name) const { return given_.count(name) > 0; }
  std::string get(const std::string& name, const std::string& fallback) const {
    return has(name) ? given_.at(name) : fallback;
  }

  int64_t integer(const std::string& name, int64_t fallback) const {
    if (!has(name)) return fallback;
    const std::vector<int64_t> v = ints(name);
    if (v.size() != 1) throw std::invalid_argument(fmt::format("--{} takes one integer", name));
    return v[0];
  }

  std::vector<std::string> strings(const std::string& name) const {
    std::vector<std::string> out;
    const std::string text = given_.at(name);
    for (size_t begin = 0, end; begin <= text.size(); begin = end + 1) {
      end = std::min(text.find(',', begin), text.size());
      if (end == begin) throw std::invalid_argument(fmt::format("--{}: empty item in '{}'", name, text));
      out.push_back(text.substr(begin, end - begin));
    }
    return out;
  }

  std::vector<int64_t> ints(const std::string& name) const {
    std::vector<int64_t> out;
    for (const std::string& item : strings(name)) {
      size_t used = 0;
      int64_t v = 0;
      try {
        v = std::stoll(item, &used);
      } catch (const std::exception&) {
      }
      if (used == 0 || used != item.size())
        throw std::invalid_argument(fmt::format("--{} expects integers separated by commas, got '{}'", name, item));
      out.push_back(v);
    }
    return out;
  }

  std::vector<int64_t> positive_ints(const std::string& name) const {
    std::vector<int64_t> out = ints(name);
    for (int64_t v : out)
      if (v <= 0) throw std::invalid_argument(fmt::format("--{}: {} is not a positive size", name, v));
    return out;
  }

 private:
  std::map<std::string, std::string> given_;
};

// The shared main of the benchmarks: options (a usage error exits 2), then "no GPU" as exit 77 (ctest shows it
// as Skipped) where no GPU can be used, then the run (an exception exits 1 with its message). `run` is null in
// builds without the CUDA kernels.
template <typename Options>
int bench_main(int argc, char** argv, const char* usage, Options (*parse)(int, char**), int (*run)(const Options&)) {
  Options opt;
  try {
    opt = parse(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n{}", e.what(), usage);
    return 2;
  }
  if (run == nullptr) {
    fmt::print("no GPU: this build has no CUDA kernels (libtorch without CUDA); nothing measured, nothing written\n");
    return kExitNoGpu;
  }
  if (!at::hasCUDA()) {
    fmt::print("no GPU: libtorch sees no CUDA device; nothing measured, nothing written\n");
    return kExitNoGpu;
  }
  try {
    return run(opt);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}

}  // namespace sageval::bench
