// py:MODULE:FUNCTION backends (src/backends/python_backend.cpp): the kernel case table through a plain torch
// function in Python, judged against `math` by the fp16 gates its capabilities claim; and every way a Python
// backend can be wrong gives its own named error. Skipped, saying why, in a build without embedded Python.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "sageval/attention.h"
#include "sageval/build_paths.h"
#include "sageval/eval/attention_harness.h"
#include "support/suite_settings.h"

namespace sageval::testing {
namespace {

using eval::AttentionCase;

constexpr const char* kReference = "py:sageval_adapters.torch_reference:attention";

// The broken backends (tests/python/sageval_test_faults.py) on the interpreter's path: set before main(), so
// before the embedded interpreter starts and reads PYTHONPATH.
const bool kFaultsOnPath = [] {
  std::string path = std::string(SAGEVAL_SOURCE_DIR) + "/tests/python";
  if (const char* old = std::getenv("PYTHONPATH"); old != nullptr && *old != '\0') path += std::string(":") + old;
  return ::setenv("PYTHONPATH", path.c_str(), 1) == 0;
}();

std::string why_no_python() {
  if (has_backend(kReference)) return {};
  try {
    make_backend(kReference);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "py: backends are not available";
}

#define SAGEVAL_REQUIRE_PYTHON()                       \
  do {                                                 \
    const std::string why = why_no_python();           \
    if (!why.empty()) GTEST_SKIP() << why;             \
  } while (0)

class PythonReferenceVsMath : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(PythonReferenceVsMath, Accuracy) {
  SAGEVAL_REQUIRE_PYTHON();
  const eval::CaseResult r = eval::run_attention_case(GetParam(), kReference, eval::Reference::kMath, suite_device());
  std::printf("[ figures  ] %s py torch_reference vs math: %s lse_max_abs=%.3e\n", GetParam().name().c_str(),
              format_error_stats(r.stats).c_str(), r.lse_max_abs);
  ASSERT_FALSE(r.gates.empty()) << "the fp16 gates its capabilities claim must judge it";
  for (const Gate& g : r.gates) EXPECT_TRUE(g.pass) << g.describe();
}

INSTANTIATE_TEST_SUITE_P(Shapes, PythonReferenceVsMath, ::testing::ValuesIn(eval::shape_cases()),
                         [](const ::testing::TestParamInfo<AttentionCase>& info) { return info.param.name(); });

// Small inputs for the error cases: [1, 2, 8, 64] fp16 (or the dtype given) on the CPU.
AttentionInputs small(at::ScalarType dtype = at::kHalf, int64_t heads_kv = 2) {
  AttentionShape s;
  s.heads_q = 2;
  s.heads_kv = heads_kv;
  s.len_q = s.len_k = 8;
  s.head_dim = 64;
  return make_attention_inputs(s, InputFamily::Gaussian, dtype, Layout::HND, 3, at::kCPU);
}

// The error message of forward(), or "no error".
std::string error_of(const std::string& backend, const AttentionOptions& o = {}, at::ScalarType dtype = at::kHalf,
                     int64_t heads_kv = 2) {
  try {
    const AttentionInputs in = small(dtype, heads_kv);
    make_backend(backend)->forward(in.q, in.k, in.v, o);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

#define EXPECT_ERROR(backend_suffix, want, ...)                                                  \
  do {                                                                                           \
    const std::string message = error_of(std::string("py:sageval_test_faults:") + backend_suffix, ##__VA_ARGS__); \
    EXPECT_NE(message.find(want), std::string::npos) << message;                                 \
    EXPECT_NE(message.find(backend_suffix), std::string::npos) << "the error names the backend: " << message; \
  } while (0)

TEST(PythonBackendErrors, EachFaultIsNamed) {
  SAGEVAL_REQUIRE_PYTHON();
  EXPECT_ERROR("raises", "Python raised RuntimeError: deliberate failure inside the backend");
  EXPECT_ERROR("wrong_shape", "the output has shape [1, 2, 8, 63], expected [1, 2, 8, 64]");
  EXPECT_ERROR("wrong_dtype", "the output is Double, expected Half");
  EXPECT_ERROR("returns_nan", "the output holds NaN or Inf");
  AttentionOptions lse;
  lse.return_lse = true;
  EXPECT_ERROR("no_lse", "asked for the log-sum-exp, it returned no (output, lse) pair", lse);
  EXPECT_ERROR("undeclared", "declares no sageval_capabilities");
  EXPECT_ERROR("missing_function", "module 'sageval_test_faults' has no 'missing_function'");
  // What a backend declares it lacks is refused before it is called.
  EXPECT_ERROR("narrow", "Half", AttentionOptions{}, at::kHalf, 2);
  AttentionOptions causal;
  causal.causal = true;
  EXPECT_ERROR("narrow", "causal masks are not supported", causal, at::kFloat, 2);
  EXPECT_ERROR("narrow", "grouped-query attention (Hq 2 != Hkv 1) is not supported", AttentionOptions{}, at::kFloat, 1);
  EXPECT_ERROR("narrow", "return_lse is not supported by this backend", lse, at::kFloat, 2);
}

TEST(PythonBackendErrors, ModulesAndNames) {
  SAGEVAL_REQUIRE_PYTHON();
  const std::string missing = error_of("py:no_such_module_here:f");
  EXPECT_NE(missing.find("cannot import module 'no_such_module_here': ModuleNotFoundError"), std::string::npos) << missing;
  EXPECT_FALSE(has_backend("py:nocolon"));
  EXPECT_FALSE(has_backend("py::f"));
  EXPECT_TRUE(has_backend(kReference));
  EXPECT_THROW(make_backend("py:nocolon"), std::invalid_argument);
  const BackendCapabilities caps = make_backend(kReference)->capabilities();
  EXPECT_EQ(caps.gates, "fp16");
  EXPECT_TRUE(caps.cpu);
  EXPECT_TRUE(caps.lse);
  EXPECT_NE(caps.description.find("[torch "), std::string::npos) << "the library and its version: " << caps.description;
}

}  // namespace
}  // namespace sageval::testing
