// CPU accuracy grid: the `fp16` and `sage_int8` backends (their exact emulations on CPU) against the float64
// `math` backend, over the shape and input-family tables of support/attention_cases.h. Gates come from the
// thresholds file; every case records its figures.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <torch/version.h>

#include "sageval/attention.h"
#include "sageval/thresholds.h"
#include "support/accuracy_gates.h"
#include "support/attention_cases.h"
#include "support/plain_attention.h"

namespace sageval::testing {
namespace {

struct Computed {
  AttentionInputs in;
  AttentionOutput out, ref;
};

Computed run_case(const AttentionCase& c, const std::string& backend) {
  Computed r;
  r.in = make_attention_inputs(c.shape(), c.family, c.dtype, c.layout, seed_from_name(c.name()));
  r.out = make_backend(backend)->forward(r.in.q, r.in.k, r.in.v, c.options());
  r.ref = make_backend("math")->forward(r.in.q, r.in.k, r.in.v, c.options());
  return r;
}

double lse_max_abs_error(const AttentionOutput& out, const AttentionOutput& ref) {
  // -inf == -inf (rows with no visible key) counts as no error.
  at::Tensor a = out.lse.to(at::kDouble), b = ref.lse.to(at::kDouble);
  at::Tensor both_inf = at::isinf(a) & at::isinf(b) & (a == b);
  return at::where(both_inf, at::zeros_like(a), (a - b).abs()).max().item<double>();
}

class SageInt8VsMath : public ::testing::TestWithParam<AttentionCase> {};
class Fp16VsMath : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(SageInt8VsMath, Accuracy) {
  const AttentionCase& c = GetParam();
  Computed r = run_case(c, "sage_int8");
  AccuracyVerdict v = judge_sage_int8(c, as_hnd(r.out.out, c.layout), as_hnd(r.ref.out, c.layout));
  const double lse_err = lse_max_abs_error(r.out, r.ref);
  const double lse_bound =
      Thresholds::defaults().number(fmt::format("/attention/sage_int8/{}/max_lse_abs_error", to_string(c.family)));
  v.gates.push_back({fmt::format("lse max abs error <= {}", lse_bound), lse_err, lse_bound, lse_err <= lse_bound});
  std::printf("[ figures  ] %s sage_int8 vs math: %s lse_err=%.3e\n", c.name().c_str(),
              format_error_stats(v.stats).c_str(), lse_err);
  record_verdict("attention_accuracy_cpu", c.name(), "sage_int8", "math", "cpu", v);
  EXPECT_TRUE(v.pass()) << v.failure_message(c.name());
}

TEST_P(Fp16VsMath, Accuracy) {
  const AttentionCase& c = GetParam();
  Computed r = run_case(c, "fp16");
  const double sm_scale = 1.0 / std::sqrt(static_cast<double>(c.head_dim));
  at::Tensor plain = plain_16bit_attention(as_hnd(r.in.q, c.layout), as_hnd(r.in.k, c.layout),
                                           as_hnd(r.in.v, c.layout), c.causal, sm_scale);
  AccuracyVerdict v = judge_fp16(c, as_hnd(r.out.out, c.layout), as_hnd(r.ref.out, c.layout), plain);
  const double lse_err = lse_max_abs_error(r.out, r.ref);
  const double lse_bound = Thresholds::defaults().number("/attention/fp16/max_lse_abs_error_eps") *
                           (c.dtype == at::kBFloat16 ? 0x1p-7 : 0x1p-10);
  v.gates.push_back({fmt::format("lse max abs error <= {}", lse_bound), lse_err, lse_bound, lse_err <= lse_bound});
  std::printf("[ figures  ] %s fp16 vs math: %s lse_err=%.3e\n", c.name().c_str(),
              format_error_stats(v.stats).c_str(), lse_err);
  record_verdict("attention_accuracy_cpu", c.name(), "fp16", "math", "cpu", v);
  EXPECT_TRUE(v.pass()) << v.failure_message(c.name());
}

// libtorch's SDPA (where this libtorch has it) against math, in float32 so that the comparison is tight.
class SdpaVsMath : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(SdpaVsMath, Accuracy) {
  if (!has_backend("sdpa")) GTEST_SKIP() << "libtorch " << TORCH_VERSION << " has no scaled_dot_product_attention";
  AttentionCase c = GetParam();
  auto in = make_attention_inputs(c.shape(), c.family, at::kFloat, c.layout, seed_from_name(c.name()));
  AttentionOptions o = c.options();
  o.return_lse = false;
  at::Tensor out = as_hnd(make_backend("sdpa")->forward(in.q, in.k, in.v, o).out, c.layout);
  at::Tensor ref = as_hnd(make_backend("math")->forward(in.q, in.k, in.v, o).out, c.layout);
  const ErrorStats s = compare_tensors(out, ref);
  std::printf("[ figures  ] %s sdpa(fp32) vs math: %s\n", c.name().c_str(), format_error_stats(s).c_str());
  EXPECT_EQ(s.nan_count + s.inf_count, 0);
  EXPECT_LT(s.max_abs, 1e-4) << format_error_stats(s);
}

std::string case_name(const ::testing::TestParamInfo<AttentionCase>& info) { return info.param.name(); }

std::vector<AttentionCase> sdpa_cases() {
  std::vector<AttentionCase> cases;
  for (const AttentionCase& c : shape_cases())
    if (c.head_dim == 64 && (c.gqa == 1 || c.gqa == 4)) cases.push_back(c);
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, SageInt8VsMath, ::testing::ValuesIn(shape_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Inputs, SageInt8VsMath, ::testing::ValuesIn(input_family_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Shapes, Fp16VsMath, ::testing::ValuesIn(shape_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Shapes, SdpaVsMath, ::testing::ValuesIn(sdpa_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Inputs, Fp16VsMath, ::testing::ValuesIn(input_family_cases()), case_name);

}  // namespace
}  // namespace sageval::testing
