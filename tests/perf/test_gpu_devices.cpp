// Several GPUs on one host without a GPU: the resource spec sageval writes for ctest, the allotment ctest hands a
// test read back into a device, and bad allotments rejected with a message naming the variable.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "sageval/perf/gpu_devices.h"

namespace sageval {
namespace {

using perf::CtestGpu;

perf::EnvironmentLookup fake_environment(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(CtestResourceSpec, OffersEachGpuItsSlots) {
  const nlohmann::json spec = perf::ctest_resource_spec(3, 4);
  EXPECT_EQ(spec["version"]["major"], 1);
  EXPECT_EQ(spec["version"]["minor"], 0);
  ASSERT_EQ(spec["local"].size(), 1u);
  const nlohmann::json& gpus = spec["local"][0]["gpus"];
  ASSERT_EQ(gpus.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(gpus[i]["id"], std::to_string(i));  // ctest wants string ids
    EXPECT_EQ(gpus[i]["slots"], 4);
  }
}

TEST(CtestResourceSpec, RejectsNoGpuOrNoSlots) {
  EXPECT_THROW(perf::ctest_resource_spec(0, 4), std::invalid_argument);
  EXPECT_THROW(perf::ctest_resource_spec(2, 0), std::invalid_argument);
}

TEST(CtestAllottedGpu, NoneWithoutResourceGroups) {
  EXPECT_FALSE(perf::ctest_allotted_gpu(fake_environment({})).has_value());
}

TEST(CtestAllottedGpu, ReadsTheGpuAndItsSlots) {
  const auto gpu = perf::ctest_allotted_gpu(fake_environment(
      {{"CTEST_RESOURCE_GROUP_COUNT", "1"}, {"CTEST_RESOURCE_GROUP_0", "gpus"}, {"CTEST_RESOURCE_GROUP_0_GPUS", "id:3,slots:4"}}));
  ASSERT_TRUE(gpu.has_value());
  EXPECT_EQ(gpu->id, 3);
  EXPECT_EQ(gpu->slots, 4);
}

struct BadAllotment {
  const char* label;
  std::map<std::string, std::string> vars;
  const char* named;  // the variable the message must name
};

class CtestAllottedGpuRejects : public ::testing::TestWithParam<BadAllotment> {};

TEST_P(CtestAllottedGpuRejects, NamingTheVariable) {
  try {
    perf::ctest_allotted_gpu(fake_environment(GetParam().vars));
    FAIL() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(GetParam().named), std::string::npos) << e.what();
  }
}

const std::map<std::string, std::string> kGroup = {{"CTEST_RESOURCE_GROUP_COUNT", "1"}, {"CTEST_RESOURCE_GROUP_0", "gpus"}};
std::map<std::string, std::string> with_gpus(const std::string& value) {
  auto vars = kGroup;
  vars["CTEST_RESOURCE_GROUP_0_GPUS"] = value;
  return vars;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CtestAllottedGpuRejects,
    ::testing::Values(
        BadAllotment{"TwoGroups", {{"CTEST_RESOURCE_GROUP_COUNT", "2"}}, "CTEST_RESOURCE_GROUP_COUNT"},
        BadAllotment{"CountNotANumber", {{"CTEST_RESOURCE_GROUP_COUNT", "one"}}, "CTEST_RESOURCE_GROUP_COUNT"},
        BadAllotment{"GroupTypeMissing", {{"CTEST_RESOURCE_GROUP_COUNT", "1"}}, "CTEST_RESOURCE_GROUP_0"},
        BadAllotment{"OtherType", {{"CTEST_RESOURCE_GROUP_COUNT", "1"}, {"CTEST_RESOURCE_GROUP_0", "cpus"}}, "CTEST_RESOURCE_GROUP_0"},
        BadAllotment{"GpusMissing", kGroup, "CTEST_RESOURCE_GROUP_0_GPUS"},
        BadAllotment{"Empty", with_gpus(""), "CTEST_RESOURCE_GROUP_0_GPUS"},
        BadAllotment{"NoSlots", with_gpus("id:0"), "CTEST_RESOURCE_GROUP_0_GPUS"},
        BadAllotment{"IdNotANumber", with_gpus("id:GPU-1,slots:1"), "CTEST_RESOURCE_GROUP_0_GPUS"},
        BadAllotment{"NegativeId", with_gpus("id:-1,slots:1"), "CTEST_RESOURCE_GROUP_0_GPUS"},
        BadAllotment{"ZeroSlots", with_gpus("id:0,slots:0"), "CTEST_RESOURCE_GROUP_0_GPUS"},
        BadAllotment{"SwappedFields", with_gpus("slots:1,id:0"), "CTEST_RESOURCE_GROUP_0_GPUS"},
        BadAllotment{"TwoGpus", with_gpus("id:0,slots:1;id:1,slots:1"), "CTEST_RESOURCE_GROUP_0_GPUS"}),
    [](const ::testing::TestParamInfo<BadAllotment>& info) { return std::string(info.param.label); });

TEST(CpuThreadsForShare, TheSharesOfTheCores) {
  EXPECT_EQ(perf::cpu_threads_for_share(1, 4, 1, 16), 4);   // four sharing tests on one GPU
  EXPECT_EQ(perf::cpu_threads_for_share(4, 4, 1, 16), 16);  // a test with the GPU to itself
  EXPECT_EQ(perf::cpu_threads_for_share(1, 4, 2, 32), 4);   // eight at once on two GPUs
  EXPECT_EQ(perf::cpu_threads_for_share(4, 4, 2, 32), 16);
  EXPECT_EQ(perf::cpu_threads_for_share(1, 4, 8, 16), 1);   // never below one
  EXPECT_EQ(perf::cpu_threads_for_share(1, 4, 0, 0), 1);
}

TEST(CudaVisibleDevicesFor, TheOrdinalItselfWithoutAList) {
  EXPECT_EQ(perf::cuda_visible_devices_for(1, nullptr), "1");
  EXPECT_EQ(perf::cuda_visible_devices_for(0, ""), "0");
}

TEST(CudaVisibleDevicesFor, TheEntryOfTheVisibleList) {
  EXPECT_EQ(perf::cuda_visible_devices_for(0, "2,3"), "2");
  EXPECT_EQ(perf::cuda_visible_devices_for(1, "2,3"), "3");
  EXPECT_EQ(perf::cuda_visible_devices_for(1, "GPU-aa,GPU-bb"), "GPU-bb");
}

TEST(CudaVisibleDevicesFor, RejectsAnOrdinalPastTheList) {
  EXPECT_THROW(perf::cuda_visible_devices_for(2, "2,3"), std::invalid_argument);
  EXPECT_THROW(perf::cuda_visible_devices_for(1, "2,"), std::invalid_argument);
  EXPECT_THROW(perf::cuda_visible_devices_for(-1, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace sageval
