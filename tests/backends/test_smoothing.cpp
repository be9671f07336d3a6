// Smoothing K: exact for the output in exact arithmetic, shifts the log-sum-exp by sm_scale * q.mean (which
// the sage_int8 backend adds back), and on K-bias inputs cuts the INT8 error several-fold.
#include <gtest/gtest.h>

#include <cmath>

#include "sageval/attention.h"
#include "sageval/attention_inputs.h"
#include "sageval/emulation.h"
#include "sageval/metrics.h"
#include "sageval/quantize.h"
#include "sageval/thresholds.h"

namespace sageval {
namespace {

// One sequence of n tokens, 4 query heads over 2 kv heads.
AttentionShape shape_of(int64_t n, int64_t d) { return {1, 4, 2, n, n, d}; }

TEST(SmoothK, LeavesExactOutputUnchangedAndShiftsLse) {
  auto in = make_attention_inputs(shape_of(300, 64), InputFamily::KBias, at::kDouble, Layout::HND, 3);
  at::Tensor mean = in.k.mean(2, /*keepdim=*/true);
  AttentionOptions opt;
  opt.return_lse = true;
  opt.causal = true;
  auto math = make_backend("math");
  AttentionOutput plain = math->forward(in.q, in.k, in.v, opt);
  AttentionOutput smoothed = math->forward(in.q, in.k - mean, in.v, opt);
  EXPECT_LT((plain.out - smoothed.out).abs().max().item<double>(), 1e-12);
  const double sm_scale = 1.0 / 8.0;
  at::Tensor shift = at::matmul(in.q, mean.repeat_interleave(2, 1).transpose(-1, -2)).squeeze(-1) * sm_scale;
  EXPECT_LT((plain.lse.to(at::kDouble) - (smoothed.lse.to(at::kDouble) + shift)).abs().max().item<double>(), 1e-4);
}

TEST(SmoothK, SageInt8LseIncludesTheCorrection) {
  auto in = make_attention_inputs(shape_of(500, 128), InputFamily::KBias, at::kHalf, Layout::HND, 5);
  AttentionOptions opt;
  opt.return_lse = true;
  AttentionOutput sage = make_backend("sage_int8")->forward(in.q, in.k, in.v, opt);
  AttentionOutput math = make_backend("math")->forward(in.q, in.k, in.v, opt);
  // Without the correction the error would be |sm_scale * q.mean|, several units on these inputs.
  EXPECT_LT((sage.lse - math.lse).abs().max().item<float>(),
            Thresholds::defaults().number("/attention/sage_int8/k_bias/max_lse_abs_error"));
}

class SmoothingGain : public ::testing::TestWithParam<int> {};

TEST_P(SmoothingGain, CutsKBiasErrorSeveralFold) {
  const int d = GetParam();
  auto in = make_attention_inputs(shape_of(1000, d), InputFamily::KBias, at::kHalf, Layout::HND, 17 + d);
  const double sm_scale = 1.0 / std::sqrt(static_cast<double>(d));
  at::Tensor ref = make_backend("math")->forward(in.q, in.k, in.v).out;
  at::Tensor with = emulate_sage_int8_attention(in.q, in.k, in.v, false, sm_scale, false, {true}).out;
  at::Tensor without = emulate_sage_int8_attention(in.q, in.k, in.v, false, sm_scale, false, {false}).out;
  const double e_with = compare_tensors(with, ref).rel_l1, e_without = compare_tensors(without, ref).rel_l1;
  const double gain = e_without / e_with;
  const double min_gain = Thresholds::defaults().number("/attention/sage_int8/min_smoothing_gain_k_bias");
  std::printf("[ figures  ] D%d K-bias rel_l1: smoothed %.5f, unsmoothed %.5f, gain %.2fx\n", d, e_with, e_without, gain);
  EXPECT_GE(gain, min_gain) << "smoothed rel_l1 " << e_with << ", unsmoothed " << e_without;
}

// Q smoothing (SageAttention2; the emulation-only recipe lever of backend sage_int8_qsmooth): on queries that
// share a large per-channel offset, each Q block's INT8 grid is spent on the offset; subtracting the block's
// mean and adding its scores back in float32 must give a smaller error than sage_int8 with the same Q scales (per
// block: sage_int8_qblock), and the same LSE.
TEST_P(SmoothingGain, QSmoothingHelpsWhereQueriesShareAnOffset) {
  const int d = GetParam();
  auto in = make_attention_inputs(shape_of(1000, d), InputFamily::Gaussian, at::kHalf, Layout::HND, 29 + d);
  // A fixed offset per channel (deterministic, unlike an unseeded randn): up to 6 standard deviations.
  at::Tensor offset = (at::arange(d, at::TensorOptions().dtype(at::kFloat)) * 1.7f + 0.3f).sin().reshape({1, 1, 1, d}) * 6.0;
  at::Tensor q = (in.q.to(at::kFloat) + offset).to(at::kHalf);
  AttentionOptions opt;
  opt.return_lse = true;
  AttentionOutput ref = make_backend("math")->forward(q, in.k, in.v, opt);
  AttentionOutput plain = make_backend("sage_int8_qblock")->forward(q, in.k, in.v, opt);  // Q scaled as qsmooth's
  AttentionOutput smoothed = make_backend("sage_int8_qsmooth")->forward(q, in.k, in.v, opt);
  const double e_plain = compare_tensors(plain.out, ref.out).rel_l1, e_smooth = compare_tensors(smoothed.out, ref.out).rel_l1;
  std::printf("[ figures  ] D%d Q-offset rel_l1: sage_int8_qblock %.5f, Q smoothed %.5f, gain %.2fx\n", d, e_plain,
              e_smooth, e_plain / e_smooth);
  EXPECT_LT(e_smooth, e_plain);
  // The means' scores are added back: the LSE is no further from math's than sage_int8's (a wrong add-back would
  // be off by the mean's scores, several units here).
  const float lse_plain = (plain.lse - ref.lse).abs().max().item<float>();
  const float lse_smooth = (smoothed.lse - ref.lse).abs().max().item<float>();
  std::printf("[ figures  ] D%d Q-offset LSE max abs error: sage_int8_qblock %.4f, Q smoothed %.4f\n", d, lse_plain,
              lse_smooth);
  EXPECT_LE(lse_smooth, lse_plain);
}

INSTANTIATE_TEST_SUITE_P(HeadDims, SmoothingGain, ::testing::Values(64, 128),
                         [](const ::testing::TestParamInfo<int>& info) { return "D" + std::to_string(info.param); });

}  // namespace
}  // namespace sageval
