#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "sageval/app/options.h"
#include "sageval/attention.h"
#include "sageval/model/llama_model.h"
#include "sageval/perf/gpu_devices.h"
#include "support/test_options.h"

namespace sageval::testing {
namespace {
std::string g_candidate = "sage_int8";
}
const std::string& candidate_backend() { return g_candidate; }

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

std::string suite_model_dir() { return env_or("SAGEVAL_MODEL", model::default_model_dir()); }

int64_t env_int_or(const char* name, int64_t fallback) {
  const std::string v = env_or(name, "");
  if (v.empty()) return fallback;
  try {
    return std::stoll(v);
  } catch (const std::exception&) {
    throw std::invalid_argument(std::string(name) + " must be an integer, got '" + v + "'");
  }
}
}  // namespace sageval::testing

int main(int argc, char** argv) {
  // Under `ctest --resource-spec-file` this process runs on the GPU ctest allotted it (before anything starts CUDA).
  try {
    if (const std::string line = sageval::perf::use_ctest_allotted_gpu(); !line.empty()) std::printf("%s\n", line.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return sageval::app::kExitError;
  }
  ::testing::InitGoogleTest(&argc, argv);  // takes its own --gtest_* flags out of argv
  CLI::App app{"sageval test executable (GoogleTest flags: --help)"};
  sageval::app::add_backend_option(app, sageval::testing::g_candidate, "the candidate the suites compare");
  if (const int rc = sageval::app::parse(app, argc, argv); rc >= 0) return rc;
  const int rc = RUN_ALL_TESTS();
  // Under ctest (which sets the variable) a run whose every selected case skipped exits with this code, so the
  // entry shows as Skipped rather than Passed.
  const ::testing::UnitTest& run = *::testing::UnitTest::GetInstance();
  if (const char* code = std::getenv("SAGEVAL_ALL_SKIPPED_EXIT_CODE");
      rc == 0 && code != nullptr && run.test_to_run_count() > 0 && run.skipped_test_count() == run.test_to_run_count())
    return std::atoi(code);
  return rc;
}
