#include "sageval/perf/gpu_devices.h"

// The parts of sageval/perf/gpu_devices.h that ask CUDA or libtorch; the allotment arithmetic is in
// ctest_allotment.cpp.
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include <ATen/Parallel.h>
#include <fmt/format.h>

#ifdef SAGEVAL_WITH_CUDA_KERNELS
#include <cuda_runtime.h>
#endif

namespace sageval::perf {

namespace {

#ifdef SAGEVAL_WITH_CUDA_KERNELS
std::string uuid_string(const cudaUUID_t& u) {
  std::string hex;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) hex += '-';
    hex += fmt::format("{:02x}", static_cast<unsigned char>(u.bytes[i]));
  }
  return "GPU-" + hex;
}
#endif

}  // namespace

std::vector<GpuDevice> visible_gpus() {
  std::vector<GpuDevice> gpus;
#ifdef SAGEVAL_WITH_CUDA_KERNELS
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: none visible, and no error left for the next CUDA call
    return gpus;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    gpus.push_back({i, p.name, uuid_string(p.uuid)});
  }
#endif
  return gpus;
}

std::string use_ctest_allotted_gpu() {
  const std::optional<CtestGpu> gpu = ctest_allotted_gpu([](const char* name) { return std::getenv(name); });
  if (!gpu) return "";
  const char* before = std::getenv("CUDA_VISIBLE_DEVICES");
  const std::string visible = cuda_visible_devices_for(gpu->id, before);
  // Tests sharing the host run at once: each takes the CPU threads of its share (its slots of all the host's
  // GPU slots), or libtorch's thread pools (a thread per core each) oversubscribe the cores many times over
  // (one H200, 16 cores, ctest -L gpu -j 4 without this: the 28 entries took 1795 s of process time in 470 s).
  // An OMP_NUM_THREADS given by the user wins (scripts/run_tests.sh sets 1 for its CPU tests), and the line says so.
  const char* omp = std::getenv("OMP_NUM_THREADS");
  const bool user_threads = omp != nullptr && *omp != '\0';
  int threads = at::get_num_threads();
  if (!user_threads) {
    threads = cpu_threads_for_share(gpu->slots, ctest_gpu_slots(), gpus_on_host(before),
                                    static_cast<int>(std::thread::hardware_concurrency()));
    at::set_num_threads(threads);
  }
  ::setenv("CUDA_VISIBLE_DEVICES", visible.c_str(), 1);
  std::string line = fmt::format("ctest resource allocation: GPU {} ({} of {} slots, {} CPU threads{}) -> CUDA_VISIBLE_DEVICES={}",
                                 gpu->id, gpu->slots, ctest_gpu_slots(), threads, user_threads ? " by OMP_NUM_THREADS" : "",
                                 visible);
#ifdef SAGEVAL_WITH_CUDA_KERNELS
  // The device CUDA now sees, by name and UUID; more than one means CUDA had started before the narrowing.
  const std::vector<GpuDevice> seen = visible_gpus();
  if (seen.size() > 1)
    throw std::runtime_error(fmt::format("CUDA sees {} GPUs after CUDA_VISIBLE_DEVICES={}: it started before the "
                                         "ctest allotment was applied", seen.size(), visible));
  if (seen.empty())
    throw std::runtime_error(fmt::format("CUDA sees no GPU with CUDA_VISIBLE_DEVICES={}: the resource spec offers a GPU "
                                         "this machine does not have (write it again with `sageval resource-spec`)", visible));
  line += fmt::format(": {} {}", seen[0].name, seen[0].uuid);
#endif
  return line;
}

}  // namespace sageval::perf
