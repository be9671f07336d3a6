// The backend registry and the run-time choice of backend (--attention-backend, SAGEVAL_ATTENTION_BACKEND).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "sageval/attention.h"
#include "sageval/torch_compat.h"

namespace sageval {
namespace {

bool listed(const std::string& name) {
  const auto names = list_backends();
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(Registry, ListsTheBuiltInBackends) {
  for (const char* name : {"math", "math_fp32", "fp16", "sage_int8"}) {
    EXPECT_TRUE(listed(name)) << name;
    EXPECT_EQ(make_backend(name)->name(), name);
  }
  EXPECT_EQ(listed("sdpa"), SAGEVAL_TORCH_HAS_SDPA == 1) << "sdpa is listed exactly where libtorch has it";
}

TEST(Registry, UnknownNameListsTheAvailableOnes) {
  try {
    make_backend("flash9");
    FAIL() << "no error for an unknown backend";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown attention backend 'flash9'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("sage_int8"), std::string::npos) << e.what();
  }
}

class SelectBackend : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* v = std::getenv("SAGEVAL_ATTENTION_BACKEND")) saved_ = v;
    ::unsetenv("SAGEVAL_ATTENTION_BACKEND");
  }
  void TearDown() override {
    if (saved_.empty()) ::unsetenv("SAGEVAL_ATTENTION_BACKEND");
    else ::setenv("SAGEVAL_ATTENTION_BACKEND", saved_.c_str(), 1);
  }
  std::string saved_;
};

TEST_F(SelectBackend, FlagThenEnvironmentThenFallback) {
  const char* none[] = {"prog"};
  EXPECT_EQ(select_backend_name(1, none, "fp16"), "fp16");
  ::setenv("SAGEVAL_ATTENTION_BACKEND", "math", 1);
  EXPECT_EQ(select_backend_name(1, none, "fp16"), "math");
  const char* spaced[] = {"prog", "--other", "--attention-backend", "sage_int8"};
  EXPECT_EQ(select_backend_name(4, spaced, "fp16"), "sage_int8");
  const char* joined[] = {"prog", "--attention-backend=math_fp32"};
  EXPECT_EQ(select_backend_name(2, joined, "fp16"), "math_fp32");
}

TEST_F(SelectBackend, RejectsUnknownOrMissingNames) {
  const char* bad_flag[] = {"prog", "--attention-backend", "nope"};
  EXPECT_THROW(select_backend_name(3, bad_flag, "fp16"), std::invalid_argument);
  const char* missing[] = {"prog", "--attention-backend"};
  EXPECT_THROW(select_backend_name(2, missing, "fp16"), std::invalid_argument);
  ::setenv("SAGEVAL_ATTENTION_BACKEND", "nope", 1);
  const char* none[] = {"prog"};
  try {
    select_backend_name(1, none, "fp16");
    FAIL() << "no error for an unknown backend in the environment";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("SAGEVAL_ATTENTION_BACKEND"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sageval
