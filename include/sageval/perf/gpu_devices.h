// Several GPUs on one host. Which GPUs this process sees; the resource spec that offers them to
// `ctest --resource-spec-file` (CMake's resource allocation: each GPU test declares RESOURCE_GROUPS "gpus:N",
// tests/CMakeLists.txt); and the one step every GPU test and benchmark process takes first: use the GPU that
// ctest allotted to it, by narrowing CUDA_VISIBLE_DEVICES before CUDA starts, so no kernel, backend or suite
// needs to know a device index.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sageval::perf {

// A GPU as this process sees it: its CUDA ordinal (an index into CUDA_VISIBLE_DEVICES when that is set), name
// and UUID ("GPU-8d2f...").
struct GpuDevice {
  int ordinal = 0;
  std::string name, uuid;
};
// Empty in a build without the CUDA kernels or when no GPU is visible.
std::vector<GpuDevice> visible_gpus();

// Slots one GPU offers in the spec: a test that may share a GPU asks for one slot, a test that must have a GPU
// to itself (timing, memory, the model suites) asks for all of them (tests/CMakeLists.txt uses the same value).
int ctest_gpu_slots();

// The resource spec (ctest's JSON format, version 1.0) offering GPUs 0..gpu_count-1 (CUDA ordinals of the
// visible devices) under the resource type "gpus", `slots` slots each. Throws std::invalid_argument for a count
// or slots below 1.
nlohmann::json ctest_resource_spec(int gpu_count, int slots);

// The GPU ctest allotted to this process: id (a CUDA ordinal) and slots taken.
struct CtestGpu {
  int id = 0;
  int slots = 0;
};
using EnvironmentLookup = std::function<const char*(const char*)>;
// Read from CTEST_RESOURCE_GROUP_COUNT, CTEST_RESOURCE_GROUP_0 and CTEST_RESOURCE_GROUP_0_GPUS; nullopt when
// ctest set none (no resource spec given, or a test without RESOURCE_GROUPS). Throws std::invalid_argument
// naming the variable and its value when they do not describe exactly one GPU.
std::optional<CtestGpu> ctest_allotted_gpu(const EnvironmentLookup& env);

// The CUDA_VISIBLE_DEVICES value that leaves ordinal `ordinal` of the devices visible now as the only one:
// the ordinal-th entry of `current` (a comma-separated list of indices or UUIDs), or the ordinal itself when
// `current` is null or empty. Throws std::invalid_argument when the list has no such entry.
std::string cuda_visible_devices_for(int ordinal, const char* current);

// The CPU threads of a process holding `slots` of the `slots_per_gpu` slots of one of `gpus_on_host` GPUs on a
// host of `cores` cores: its share of the cores, at least 1.
int cpu_threads_for_share(int slots, int slots_per_gpu, int gpus_on_host, int cores);

// GPUs the host offers this process before any narrowing: the entries of `visible` (CUDA_VISIBLE_DEVICES), else
// the driver's list (/proc/driver/nvidia/gpus, readable without starting CUDA), else 1.
int gpus_on_host(const char* visible);

// The first step of every GPU test and benchmark process: under ctest with a resource spec, sets
// CUDA_VISIBLE_DEVICES to the allotted GPU, libtorch's CPU threads to the process's share of the cores
// (cpu_threads_for_share; OMP_NUM_THREADS, when given, wins) and returns a line saying so (the process prints it, so each test's
// log names its device: the GPU's name and UUID as CUDA then sees it); otherwise changes nothing and returns "".
// Must run before anything starts CUDA. Throws std::invalid_argument as ctest_allotted_gpu does, and
// std::runtime_error when CUDA then sees no GPU or several (it had started before).
std::string use_ctest_allotted_gpu();

}  // namespace sageval::perf
