// py:MODULE:FUNCTION backends (src/backends/python_backend.cpp): the kernel case table through a plain torch
// function in Python, judged against `math` by the fp16 gates its capabilities claim; and every way a Python
// backend can be wrong gives its own named error. Skipped, saying why, in a build without embedded Python.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>

#include <torch/version.h>

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
  if (suites_on_gpu() && !at::hasCUDA()) GTEST_SKIP() << "no CUDA device visible to libtorch";
  const eval::CaseResult r = eval::run_attention_case(GetParam(), kReference, eval::Reference::kMath, suite_device());
  std::printf("[ figures  ] %s py torch_reference vs math: %s lse_max_abs=%.3e\n", GetParam().name().c_str(),
              format_error_stats(r.stats).c_str(), r.lse_max_abs);
  ASSERT_FALSE(r.gates.empty()) << "the fp16 gates its capabilities claim must judge it";
  for (const Gate& g : r.gates) EXPECT_TRUE(g.pass) << g.describe();
}

INSTANTIATE_TEST_SUITE_P(Shapes, PythonReferenceVsMath, ::testing::ValuesIn(eval::shape_cases()),
                         [](const ::testing::TestParamInfo<AttentionCase>& info) { return info.param.name(); });

// torch's SDPA called from Python (python/sageval_adapters/sdpa.py) and from C++ (the `sdpa` backend) on the same
// inputs: bit for bit the same output, or the Python route (embedding, DLPack both ways) changed something. On the
// GPU executable this runs on CUDA; where libtorch has no SDPA (Debian's 1.13) it is skipped, saying so.
class PythonSdpaVsCppSdpa : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(PythonSdpaVsCppSdpa, BitIdentical) {
  SAGEVAL_REQUIRE_PYTHON();
  if (!has_backend("sdpa")) GTEST_SKIP() << "libtorch " << TORCH_VERSION << " has no scaled_dot_product_attention";
  if (suites_on_gpu() && !at::hasCUDA()) GTEST_SKIP() << "no CUDA device visible to libtorch";
  constexpr const char* kPythonSdpa = "py:sageval_adapters.sdpa:attention";
  std::unique_ptr<AttentionBackend> python;
  try {
    python = make_backend(kPythonSdpa);
  } catch (const std::exception& e) {  // the embedded torch has no SDPA either
    GTEST_SKIP() << e.what();
  }
  const AttentionCase& c = GetParam();
  const AttentionInputs in = make_attention_inputs(c.shape(), c.family, c.dtype, c.layout, seed_from_name(c.name()), suite_device());
  AttentionOptions o = c.options();
  o.return_lse = false;
  const at::Tensor cpp = make_backend("sdpa")->forward(in.q, in.k, in.v, o).out;
  const at::Tensor py = python->forward(in.q, in.k, in.v, o).out;
  ASSERT_EQ(cpp.sizes(), py.sizes());
  ASSERT_EQ(cpp.scalar_type(), py.scalar_type());
  const double max_abs = (cpp.to(at::kFloat) - py.to(at::kFloat)).abs().max().item<double>();
  std::printf("[ figures  ] %s sdpa python vs C++ (%s): max_abs=%.3e\n", c.name().c_str(), in.q.device().str().c_str(), max_abs);
  EXPECT_TRUE(at::equal(cpp, py)) << "the outputs differ: max abs " << max_abs;
}

INSTANTIATE_TEST_SUITE_P(Shapes, PythonSdpaVsCppSdpa, ::testing::ValuesIn(eval::shape_cases()),
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
  EXPECT_ERROR("refuses", "Python raised Unsupported: this library does not compute such inputs");
}

// A limit the backend declares (its capabilities, or sageval_adapters.Unsupported from its adapter) is
// UnsupportedInput, which the suites count as unsupported; any other fault, NotImplementedError included, is an
// error of its own type.
TEST(PythonBackendErrors, DeclaredLimitsAreUnsupportedInput) {
  SAGEVAL_REQUIRE_PYTHON();
  const AttentionInputs in = small();
  AttentionOptions causal;
  causal.causal = true;
  EXPECT_THROW(make_backend("py:sageval_test_faults:refuses")->forward(in.q, in.k, in.v), UnsupportedInput);
  EXPECT_THROW(make_backend("py:sageval_test_faults:narrow")->forward(in.q, in.k, in.v), UnsupportedInput);  // Half
  const AttentionInputs f32 = small(at::kFloat);
  EXPECT_THROW(make_backend("py:sageval_test_faults:narrow")->forward(f32.q, f32.k, f32.v, causal), UnsupportedInput);
  for (const char* fault : {"py:sageval_test_faults:raises", "py:sageval_test_faults:not_implemented"}) {
    try {
      make_backend(fault)->forward(in.q, in.k, in.v);
      ADD_FAILURE() << fault << ": no error";
    } catch (const UnsupportedInput& e) {
      ADD_FAILURE() << fault << ": an exception in Python is a failure, not a declared limit: " << e.what();
    } catch (const std::runtime_error&) {
    }
  }
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
