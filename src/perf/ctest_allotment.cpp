// The ctest GPU allotment and CUDA_VISIBLE_DEVICES arithmetic of sageval/perf/gpu_devices.h: plain string and
// number work, apart from CUDA and libtorch (gpu_devices.cpp has what needs them), so the sanitized unit tests of
// the fuzz build (fuzz/CMakeLists.txt) can run it.
#include <algorithm>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "sageval/build_paths.h"
#include "sageval/perf/gpu_devices.h"

namespace sageval::perf {

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) parts.push_back(part);
  if (!s.empty() && s.back() == sep) parts.emplace_back();
  return parts;
}

// A non-negative decimal integer, the whole string; -1 otherwise.
int parse_index(const std::string& s) {
  if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoi(s);
}

}  // namespace

int ctest_gpu_slots() { return SAGEVAL_CTEST_GPU_SLOTS; }

nlohmann::json ctest_resource_spec(int gpu_count, int slots) {
  if (gpu_count < 1) throw std::invalid_argument(fmt::format("a resource spec needs at least one GPU, got {}", gpu_count));
  if (slots < 1) throw std::invalid_argument(fmt::format("a GPU needs at least one slot, got {}", slots));
  nlohmann::json gpus = nlohmann::json::array();
  for (int i = 0; i < gpu_count; ++i) gpus.push_back({{"id", std::to_string(i)}, {"slots", slots}});
  return {{"version", {{"major", 1}, {"minor", 0}}}, {"local", nlohmann::json::array({{{"gpus", gpus}}})}};
}

std::optional<CtestGpu> ctest_allotted_gpu(const EnvironmentLookup& env) {
  const char* count = env("CTEST_RESOURCE_GROUP_COUNT");
  if (count == nullptr) return std::nullopt;
  auto bad = [](const std::string& variable, const char* value, const std::string& expected) {
    return std::invalid_argument(fmt::format("{}='{}' from ctest's resource allocation: expected {} (a GPU test "
                                             "declares RESOURCE_GROUPS \"gpus:N\", one group of one GPU)",
                                             variable, value == nullptr ? "(unset)" : value, expected));
  };
  if (std::string(count) != "1") throw bad("CTEST_RESOURCE_GROUP_COUNT", count, "1");
  const char* types = env("CTEST_RESOURCE_GROUP_0");
  if (types == nullptr || std::string(types) != "gpus") throw bad("CTEST_RESOURCE_GROUP_0", types, "gpus");
  const char* allotted = env("CTEST_RESOURCE_GROUP_0_GPUS");
  const std::string expected = "id:<ordinal>,slots:<count>";
  if (allotted == nullptr) throw bad("CTEST_RESOURCE_GROUP_0_GPUS", allotted, expected);
  // "id:1,slots:2"; several GPUs in one group would be separated by ';'.
  const std::vector<std::string> fields = split(allotted, ',');
  if (fields.size() != 2 || fields[0].rfind("id:", 0) != 0 || fields[1].rfind("slots:", 0) != 0)
    throw bad("CTEST_RESOURCE_GROUP_0_GPUS", allotted, expected);
  const int id = parse_index(fields[0].substr(3)), slots = parse_index(fields[1].substr(6));
  if (id < 0 || slots < 1) throw bad("CTEST_RESOURCE_GROUP_0_GPUS", allotted, expected + " with a GPU ordinal and slots >= 1");
  return CtestGpu{id, slots};
}

std::string cuda_visible_devices_for(int ordinal, const char* current) {
  if (ordinal < 0) throw std::invalid_argument(fmt::format("GPU ordinal {} is negative", ordinal));
  if (current == nullptr || *current == '\0') return std::to_string(ordinal);
  const std::vector<std::string> devices = split(current, ',');
  if (ordinal >= static_cast<int>(devices.size()) || devices[ordinal].empty())
    throw std::invalid_argument(fmt::format("GPU ordinal {} is not among CUDA_VISIBLE_DEVICES='{}' ({} entries): the "
                                            "resource spec was written for other visible devices",
                                            ordinal, current, devices.size()));
  return devices[ordinal];
}

int cpu_threads_for_share(int slots, int slots_per_gpu, int gpus_on_host, int cores) {
  const int64_t share = static_cast<int64_t>(cores) * slots / (static_cast<int64_t>(slots_per_gpu) * std::max(1, gpus_on_host));
  return static_cast<int>(std::clamp<int64_t>(share, 1, std::max(1, cores)));
}

int gpus_on_host(const char* visible) {
  if (visible != nullptr && *visible != '\0') return static_cast<int>(split(visible, ',').size());
  std::error_code ec;
  int count = 0;
  for (std::filesystem::directory_iterator it("/proc/driver/nvidia/gpus", ec), end; !ec && it != end; it.increment(ec))
    ++count;
  return std::max(count, 1);
}

}  // namespace sageval::perf
