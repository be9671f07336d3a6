// The shared main of the benchmarks: options through CLI11 (sageval/app/options.h; a usage error exits 2,
// --help prints them), then "no GPU" as exit 77 (ctest shows it as Skipped) where no GPU can be used, then the
// run (an exception exits app::kExitError with its message).
#pragma once

#include <filesystem>
#include <string>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <fmt/format.h>

#include "sageval/app/options.h"
#include "sageval/perf/gpu_devices.h"
#include "sageval/record.h"

namespace sageval::bench {

// The --json file: its folder made when missing (ctest runs the benchmarks before anything made the report
// folder), written atomically so a run cut short leaves the previous file or this one whole. No path: nothing.
inline void write_json(const std::string& path, const nlohmann::json& doc) {
  if (path.empty()) return;
  if (const std::filesystem::path parent = std::filesystem::path(path).parent_path(); !parent.empty())
    std::filesystem::create_directories(parent);
  write_file_atomically(path, doc.dump(2) + "\n");
}

// The run function to hand to bench_main: the benchmark's own where this build has the CUDA kernels, else null
// (bench_main then says so and exits 77).
#ifdef SAGEVAL_WITH_CUDA_KERNELS
#define SAGEVAL_BENCH_RUN(run) (run)
#else
#define SAGEVAL_BENCH_RUN(run) nullptr
#endif

// `add_options` declares the options on the app, bound to an Options; `finish` applies what depends on several
// of them (--quick's sizes unless given) and throws std::invalid_argument naming a bad value. `run` is null in
// builds without the CUDA kernels.
template <typename Options>
int bench_main(int argc, char** argv, const char* description, void (*add_options)(CLI::App&, Options&),
               void (*finish)(const CLI::App&, Options&), int (*run)(const Options&)) {
  // Under `ctest --resource-spec-file` the benchmark runs on the GPU ctest allotted it, a whole one.
  try {
    if (const std::string line = perf::use_ctest_allotted_gpu(); !line.empty()) fmt::print("{}\n", line);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return app::kExitError;
  }
  CLI::App app{description};
  Options opt;
  add_options(app, opt);
  if (const int rc = app::parse(app, argc, argv); rc >= 0) return rc;
  try {
    finish(app, opt);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\nRun with --help for the options.\n", e.what());
    return app::kExitError;
  }
  if (run == nullptr) {
    fmt::print("no GPU: this build has no CUDA kernels (libtorch without CUDA); nothing measured, nothing written\n");
    return app::kExitNoGpu;
  }
  if (!at::hasCUDA()) {
    fmt::print("no GPU: libtorch sees no CUDA device; nothing measured, nothing written\n");
    return app::kExitNoGpu;
  }
  try {
    return run(opt);
  } catch (const c10::Error& e) {
    fmt::print(stderr, "error: {}\n", e.what_without_backtrace());
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
  }
  return app::kExitError;
}

}  // namespace sageval::bench
