// `sageval resource-spec`: the file `ctest --resource-spec-file` reads to spread the GPU tests over the GPUs this
// process sees (CUDA_VISIBLE_DEVICES honoured), each offering the slots the GPU tests ask for
// (SAGEVAL_CTEST_GPU_SLOTS; sageval/perf/gpu_devices.h).
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "cli/commands.h"
#include "sageval/perf/gpu_devices.h"
#include "sageval/record.h"

namespace sageval::cli {
namespace {

struct ResourceSpecOptions {
  std::string out;
  int gpus = 0;  // 0: the visible ones
};

int run_resource_spec(const ResourceSpecOptions& o) {
  int count = o.gpus;
  if (count == 0) {
    const std::vector<perf::GpuDevice> gpus = perf::visible_gpus();
    if (gpus.empty())
      throw std::invalid_argument("no GPU visible to CUDA here (a build without the CUDA kernels, no GPU, or an empty "
                                  "CUDA_VISIBLE_DEVICES): there is nothing to offer ctest; --gpus N writes a spec anyway");
    for (const perf::GpuDevice& g : gpus) fmt::print(stderr, "GPU {}: {} {}\n", g.ordinal, g.name, g.uuid);
    count = static_cast<int>(gpus.size());
  }
  const std::string text = perf::ctest_resource_spec(count, perf::ctest_gpu_slots()).dump(2) + "\n";
  if (o.out.empty()) {
    fmt::print("{}", text);
  } else {
    write_file_atomically(o.out, text);
    fmt::print(stderr, "{}: {} GPU(s), {} slots each; run e.g. ctest -L gpu -j {} --resource-spec-file {}\n", o.out,
               count, perf::ctest_gpu_slots(), count * perf::ctest_gpu_slots(), o.out);
  }
  return 0;
}

}  // namespace

void add_resource_spec_command(CLI::App& app, Run& run) {
  auto o = std::make_shared<ResourceSpecOptions>();
  CLI::App* sub = app.add_subcommand("resource-spec", "the ctest resource spec file offering the visible GPUs to the "
                                                      "GPU tests (ctest -L gpu -j N --resource-spec-file FILE)");
  sub->add_option("--out", o->out, "write the spec here (default: standard output)");
  sub->add_option("--gpus", o->gpus, "offer GPUs 0..N-1 instead of those CUDA sees (a spec for another machine)")
      ->check(CLI::Range(1, 1024));
  sub->callback([o, &run] { run = [o] { return run_resource_spec(*o); }; });
}

}  // namespace sageval::cli
