// The two implementations of the sage_int8 kernel (kernels::SageInt8Path): which one runs where, and both checked
// against the CPU emulation on any device that can run them (on Hopper the accuracy grid runs the sm90 one).
#include <gtest/gtest.h>

#include <stdexcept>

#include "sageval/attention.h"
#include "sageval/eval/attention_harness.h"
#include "sageval/kernels/attention_problem.h"
#include "support/suite_settings.h"
#ifdef SAGEVAL_WITH_CUDA_KERNELS
#include <cuda_runtime.h>

#include "sageval/kernels/attention_kernels.h"
#endif

namespace sageval::testing {
namespace {

using eval::AttentionCase;

#ifdef SAGEVAL_WITH_CUDA_KERNELS
// Sets the process-wide path for one scope.
class PathScope {
 public:
  explicit PathScope(kernels::SageInt8Path path) { kernels::set_sage_int8_path(path); }
  ~PathScope() { kernels::set_sage_int8_path(kernels::SageInt8Path::kAuto); }
  PathScope(const PathScope&) = delete;
  PathScope& operator=(const PathScope&) = delete;
};

bool is_hopper() {
  int device = 0, major = 0, minor = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
  return major == 9 && minor == 0;
}
#endif

TEST(SageInt8Paths, AutoTakesSm90ExactlyWhereItCanRun) {
  if (const std::string why = why_no_cuda_kernels(); !why.empty()) GTEST_SKIP() << why;
#ifdef SAGEVAL_WITH_CUDA_KERNELS
  const kernels::SageInt8Path chosen = kernels::sage_int8_path();
  std::printf("[ figures  ] sage_int8 path on this device: %s\n", kernels::sage_int8_path_name(chosen));
  // A 9.0 device with this build's sm_90a code runs sm90; CMAKE_CUDA_ARCHITECTURES=90a-real is how the GPU
  // machine builds, so there the choice must be sm90.
  if (!is_hopper()) EXPECT_EQ(chosen, kernels::SageInt8Path::kSm80);
  {
    PathScope forced(kernels::SageInt8Path::kSm80);
    EXPECT_EQ(kernels::sage_int8_path(), kernels::SageInt8Path::kSm80);
  }
  PathScope forced(kernels::SageInt8Path::kSm90);
  if (chosen == kernels::SageInt8Path::kSm90) {
    EXPECT_EQ(kernels::sage_int8_path(), kernels::SageInt8Path::kSm90);
  } else {
    EXPECT_THROW(kernels::sage_int8_path(), std::runtime_error) << "forcing sm90 where it cannot run must fail";
  }
  EXPECT_THROW(kernels::parse_sage_int8_path("sm100"), std::invalid_argument);
#endif
}

// V broadcast over the batch (a zero batch stride): the sm90 path's tensor maps cannot describe it, so it goes to
// the sm80 path, which reads it as it is; the result matches the same attention on a materialized V.
TEST(SageInt8Paths, BroadcastVIsReadAsItIs) {
  if (const std::string why = why_no_cuda_kernels(); !why.empty()) GTEST_SKIP() << why;
  AttentionShape s;
  s.batch = 2;
  s.heads_q = s.heads_kv = 2;
  s.len_q = s.len_k = 300;
  s.head_dim = 128;
  AttentionInputs in = make_attention_inputs(s, InputFamily::Gaussian, at::kHalf, Layout::HND, 41, at::kCUDA);
  const at::Tensor v = in.v.narrow(0, 0, 1).expand({2, -1, -1, -1});
  ASSERT_EQ(v.stride(0), 0);
  const AttentionOutput broadcast = make_backend("sage_int8")->forward(in.q, in.k, v);
  const AttentionOutput dense = make_backend("sage_int8")->forward(in.q, in.k, v.contiguous());
  const ErrorStats e = compare_tensors(broadcast.out, dense.out);
  std::printf("[ figures  ] broadcast V vs materialized V: %s\n", format_error_stats(e).c_str());
  EXPECT_EQ(e.nan_count + e.inf_count, 0);
  EXPECT_GE(e.cosine, 0.99999);
}

// Both Q granularities (backends sage_int8_qblock and sage_int8_qwarp, the latter what sage_int8 runs) on both
// paths against their CPU emulations, on the shape table, whatever the device: the kernels read the Q scale of each
// 16-row group, whichever granularity wrote it, and on Hopper, where the default path is sm90, the sm80 cases
// check the fallback.
struct GranularityCase {
  AttentionCase c;
  const char* backend;
  const char* path;  // "sm80" or "sm90" (kernels::parse_sage_int8_path)
};

class SageInt8Granularity : public ::testing::TestWithParam<GranularityCase> {};

TEST_P(SageInt8Granularity, MatchesCpuEmulation) {
  if (const std::string why = why_no_cuda_kernels(); !why.empty()) GTEST_SKIP() << why;
#ifdef SAGEVAL_WITH_CUDA_KERNELS
  const GranularityCase& g = GetParam();
  PathScope path(kernels::parse_sage_int8_path(g.path));
  try {
    kernels::sage_int8_path();
  } catch (const std::runtime_error& e) {
    GTEST_SKIP() << e.what();
  }
  const eval::CaseResult r = eval::run_attention_case(g.c, g.backend, eval::Reference::kEmulation, at::kCUDA);
  std::printf("[ figures  ] %s %s[%s] vs emulation: %s lse_max_abs=%.3e\n", g.c.name().c_str(), g.backend, g.path,
              format_error_stats(r.stats).c_str(), r.lse_max_abs);
  for (const Gate& gate : r.gates) EXPECT_TRUE(gate.pass) << gate.describe();
#endif
}

// Decode calls (one query against 1000 keys) run the fp16 decode kernel, not an INT8 path: left out.
std::vector<AttentionCase> int8_path_cases() {
  std::vector<AttentionCase> cases;
  for (const AttentionCase& c : eval::shape_cases())
    if (!kernels::is_decode_call(c.len_q, c.heads_kv * c.gqa, c.heads_kv, c.len_k, false)) cases.push_back(c);
  return cases;
}

std::vector<GranularityCase> granularity_cases() {
  std::vector<GranularityCase> cases;
  for (const AttentionCase& c : int8_path_cases())
    for (const char* backend : {"sage_int8_qblock", "sage_int8_qwarp"})
      for (const char* path : {"sm80", "sm90"}) cases.push_back({c, backend, path});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, SageInt8Granularity, ::testing::ValuesIn(granularity_cases()),
                         [](const ::testing::TestParamInfo<GranularityCase>& info) {
                           return info.param.c.name() + "_" + info.param.backend + "_" + info.param.path;
                         });

}  // namespace
}  // namespace sageval::testing
