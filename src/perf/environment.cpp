#include "sageval/perf/environment.h"

#include <fmt/format.h>

#include <ATen/ATen.h>

#include "sageval/build_paths.h"
#include "sageval/torch_compat.h"

#ifdef SAGEVAL_WITH_CUDA_KERNELS
#include <cuda_runtime.h>

#include "sageval/kernels/attention_kernels.h"
#endif

namespace sageval::perf {

namespace {
#ifdef SAGEVAL_WITH_CUDA_KERNELS
int attribute(cudaDeviceAttr a, int dev) {
  int v = 0;
  return cudaDeviceGetAttribute(&v, a, dev) == cudaSuccess ? v : -1;
}

nlohmann::json gpu_info() {
  int dev = 0, runtime = 0, driver = 0;
  cudaDeviceProp p{};
  if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess) return nullptr;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  // Clocks through attributes: cudaDeviceProp lost clockRate/memoryClockRate in CUDA 13. Both are peak clocks.
  return {{"name", p.name},
          {"compute_capability", fmt::format("{}.{}", p.major, p.minor)},
          {"sm_count", p.multiProcessorCount},
          {"sm_clock_peak_mhz", attribute(cudaDevAttrClockRate, dev) / 1000},
          {"memory_clock_peak_mhz", attribute(cudaDevAttrMemoryClockRate, dev) / 1000},
          {"memory_bus_bits", attribute(cudaDevAttrGlobalMemoryBusWidth, dev)},
          {"l2_bytes", p.l2CacheSize},
          {"global_memory_bytes", p.totalGlobalMem},
          {"cuda_runtime", fmt::format("{}.{}", runtime / 1000, (runtime % 1000) / 10)},
          {"cuda_driver", fmt::format("{}.{}", driver / 1000, (driver % 1000) / 10)}};
}
#endif
}  // namespace

nlohmann::json environment_info() {
  nlohmann::json env = {{"libtorch", SAGEVAL_TORCH_VERSION_STRING},
#if defined(__clang__)
                        {"compiler", fmt::format("clang {}", __clang_version__)},
#elif defined(__GNUC__)
                        {"compiler", fmt::format("g++ {}", __VERSION__)},
#else
                        {"compiler", "unknown"},
#endif
                        {"build_type", SAGEVAL_BUILD_TYPE},
                        {"cuda_kernels", false},
                        {"cuda_device", false}};
#ifdef SAGEVAL_WITH_CUDA_KERNELS
  env["cuda_kernels"] = true;
  if (at::hasCUDA()) {
    env["cuda_device"] = true;
    env["gpu"] = gpu_info();
    // Which implementation of the sage_int8 kernel this device runs (sm90 on Hopper, else sm80).
    try {
      env["sage_int8_path"] = kernels::sage_int8_path_name(kernels::sage_int8_path());
    } catch (const std::exception& e) {
      env["sage_int8_path"] = std::string("unknown: ") + e.what();
    }
  }
#endif
  return env;
}

std::string describe_device(const nlohmann::json& env) {
  if (!env.contains("gpu") || env["gpu"].is_null()) return fmt::format("CPU only (libtorch {})", env.value("libtorch", "?"));
  const nlohmann::json& g = env["gpu"];
  return fmt::format("{} (compute capability {}), {} SMs, peak clocks {} MHz SM / {} MHz memory, driver CUDA {}, runtime {}, libtorch {}, sage_int8 kernel path {}",
                     g.value("name", "?"), g.value("compute_capability", "?"), g.value("sm_count", 0),
                     g.value("sm_clock_peak_mhz", 0), g.value("memory_clock_peak_mhz", 0), g.value("cuda_driver", "?"),
                     g.value("cuda_runtime", "?"), env.value("libtorch", "?"), env.value("sage_int8_path", "?"));
}

}  // namespace sageval::perf
