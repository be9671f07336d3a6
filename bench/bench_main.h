// The shared main of the benchmark executables (options are parsed with cli/args.h, as the CLI's are).
#pragma once

#include <stdexcept>
#include <string>

#include <ATen/ATen.h>
#include <fmt/format.h>

namespace sageval::bench {

// Exit code of a run that measured nothing because no GPU is usable; ctest shows it as Skipped.
constexpr int kExitNoGpu = 77;

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
