// The main job's step runner on fake GPUs: lanes spread over the GPUs (each step's process sees only its GPU),
// steps recorded in the order given whatever order they finish in, a lane cut short when its step says so, a
// step that cannot start reported as the job failing to run.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "cli/job_steps.h"

namespace sageval::cli {
namespace {

namespace fs = std::filesystem;

class JobSteps : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sageval_job_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "logs");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A step that sleeps, then prints the GPU it saw and exits with `rc`.
  JobStep shell_step(const std::string& name, double sleep_s, int rc = 0) const {
    JobStep s;
    s.name = name;
    s.log = name + ".log";
    s.exe = "/bin/sh";
    s.args = {"-c", "sleep " + std::to_string(sleep_s) + "; echo \"gpu=${CUDA_VISIBLE_DEVICES-none} plan=${PLAN-none}\"; exit " +
                        std::to_string(rc)};
    return s;
  }
  // A step that starts, then waits (10 s at most) for `other` to have started: it passes only if the two overlap.
  JobStep meeting_step(const std::string& name, const std::string& other) const {
    JobStep s = shell_step(name, 0);
    const std::string mine = (dir_ / (name + ".started")).string(), theirs = (dir_ / (other + ".started")).string();
    s.args[1] = "touch '" + mine + "'; i=0; while [ ! -e '" + theirs + "' ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; " +
                "[ -e '" + theirs + "' ] || exit 1; " + s.args[1];
    return s;
  }
  std::string log_of(const std::string& name) const {
    std::ifstream in(dir_ / "logs" / (name + ".log"));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  fs::path dir_;
};

const std::vector<perf::GpuDevice> kTwoGpus = {{0, "Fake A", "GPU-a"}, {1, "Fake A", "GPU-b"}};

TEST_F(JobSteps, LanesRunAtOnceOneGpuEach) {
  ::unsetenv("CUDA_VISIBLE_DEVICES");
  std::vector<JobLane> lanes = {{{meeting_step("first", "second")}, 1}, {{meeting_step("second", "first")}, 2}};
  Job job(dir_.string());
  job.run(lanes, kTwoGpus);
  const nlohmann::json suites = job.record()["suites"];
  ASSERT_EQ(suites.size(), 2u);
  EXPECT_EQ(suites[0]["name"], "first");  // the order given, not the order started (longest first) or finished
  EXPECT_EQ(suites[1]["name"], "second");
  std::set<int> used;
  for (const auto& s : suites) {
    EXPECT_EQ(s["status"], "passed");
    used.insert(s["gpu"]["ordinal"].get<int>());
    // The process saw exactly the GPU its record names.
    EXPECT_NE(log_of(s["name"]).find("gpu=" + std::to_string(s["gpu"]["ordinal"].get<int>())), std::string::npos);
  }
  EXPECT_EQ(used, (std::set<int>{0, 1}));
}

TEST_F(JobSteps, GpuNamesMapThroughTheVisibleList) {
  ::setenv("CUDA_VISIBLE_DEVICES", "5,7", 1);
  Job job(dir_.string());
  job.run({{{shell_step("only", 0)}, 0}}, {{1, "Fake", "GPU-b"}});
  ::unsetenv("CUDA_VISIBLE_DEVICES");
  EXPECT_NE(log_of("only").find("gpu=7 "), std::string::npos) << log_of("only");
}

TEST_F(JobSteps, WithoutGpusStepsRunInOrderWithoutADevice) {
  ::unsetenv("CUDA_VISIBLE_DEVICES");
  JobStep with_env = shell_step("b", 0, 77);
  with_env.env = {{"PLAN", "p.json"}};
  with_env.tags = {"precision_plan"};
  Job job(dir_.string());
  job.run({{{shell_step("a", 0, 1)}, 0}, {{with_env}, 5}}, {});
  const nlohmann::json suites = job.record()["suites"];
  ASSERT_EQ(suites.size(), 2u);
  EXPECT_EQ(suites[0]["status"], "failed");
  EXPECT_EQ(suites[1]["status"], "skipped");  // 77: nothing measured
  EXPECT_FALSE(suites[0].contains("gpu"));
  EXPECT_TRUE(suites[1].value("precision_plan", false));
  EXPECT_NE(log_of("a").find("gpu=none"), std::string::npos);
  EXPECT_NE(log_of("b").find("plan=p.json"), std::string::npos);
  const nlohmann::json commands = job.record()["commands"];
  ASSERT_EQ(commands.size(), 2u);
  EXPECT_EQ(commands[1].get<std::string>().rfind("PLAN='p.json' '/bin/sh'", 0), 0u) << commands[1];
}

TEST_F(JobSteps, ALaneStopsWhenItsStepSaysSo) {
  JobStep search = shell_step("search", 0, 2);
  search.lane_continues = [](int rc) { return rc == 0 || rc == 1; };
  Job job(dir_.string());
  job.run({{{search, shell_step("after", 0)}, 0}, {{shell_step("other", 0)}, 0}}, kTwoGpus);
  const nlohmann::json suites = job.record()["suites"];
  ASSERT_EQ(suites.size(), 2u);
  EXPECT_EQ(suites[0]["name"], "search");
  EXPECT_EQ(suites[1]["name"], "other");
  EXPECT_FALSE(fs::exists(dir_ / "logs" / "after.log"));
}

TEST_F(JobSteps, ACrashIsAFailureAndAKillLeavesTheRunUnfinished) {
  JobStep crash = shell_step("crash", 0), killed = shell_step("killed", 0), error = shell_step("error", 0, 2);
  crash.args[1] = "kill -SEGV $$";
  killed.args[1] = "kill -TERM $$";
  Job job(dir_.string());
  job.run({{{crash}, 0}, {{killed}, 0}, {{error}, 0}}, {});
  const nlohmann::json suites = job.record()["suites"];
  ASSERT_EQ(suites.size(), 3u);
  EXPECT_EQ(suites[0]["status"], "crashed");
  EXPECT_EQ(suites[0]["signal"], 11);
  EXPECT_EQ(suites[1]["status"], "killed");
  EXPECT_EQ(suites[2]["status"], "failed");
  const std::vector<std::string> why = job.unfinished();
  ASSERT_EQ(why.size(), 2u);  // the kill and the error exit code; the crash is a verdict (FAIL)
  EXPECT_NE(why[0].find("step 'killed' was ended by signal 15"), std::string::npos) << why[0];
  EXPECT_NE(why[1].find("step 'error' stopped with exit code 2"), std::string::npos) << why[1];
}

TEST_F(JobSteps, AStepThatCannotStartStopsTheJob) {
  JobStep missing = shell_step("missing", 0);
  missing.exe = (dir_ / "no_such_program").string();
  Job job(dir_.string());
  EXPECT_THROW(job.run({{{missing}, 0}, {{shell_step("other", 0)}, 0}}, kTwoGpus), std::runtime_error);
  EXPECT_THROW(job.run({{{missing}, 0}}, {}), std::runtime_error);
}

}  // namespace
}  // namespace sageval::cli
