// The backend registry and the run-time choice of backend (--attention-backend, SAGEVAL_ATTENTION_BACKEND).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "sageval/app/options.h"
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

// Parses `args` with the one --attention-backend option every program shares; "" when parsing failed.
std::string chosen(std::vector<const char*> args, const std::string& fallback) {
  CLI::App app;
  std::string name = fallback;
  app::add_backend_option(app, name, "test");
  args.insert(args.begin(), "prog");
  if (app::parse(app, static_cast<int>(args.size()), args.data()) >= 0) return "";  // a usage error (or --help)
  return name;
}

TEST_F(SelectBackend, FlagThenEnvironmentThenFallback) {
  EXPECT_EQ(chosen({}, "fp16"), "fp16");
  ::setenv("SAGEVAL_ATTENTION_BACKEND", "math", 1);
  EXPECT_EQ(chosen({}, "fp16"), "math");
  EXPECT_EQ(chosen({"--attention-backend", "sage_int8"}, "fp16"), "sage_int8");
  EXPECT_EQ(chosen({"--attention-backend=math_fp32"}, "fp16"), "math_fp32");
}

TEST_F(SelectBackend, RejectsUnknownOrMissingNames) {
  EXPECT_EQ(chosen({"--attention-backend", "nope"}, "fp16"), "");
  EXPECT_EQ(chosen({"--attention-backend"}, "fp16"), "");
  EXPECT_EQ(chosen({"--other", "x"}, "fp16"), "");
  ::setenv("SAGEVAL_ATTENTION_BACKEND", "nope", 1);
  EXPECT_EQ(chosen({}, "fp16"), "") << "an unknown name in the environment is an error too";
}

}  // namespace
}  // namespace sageval
