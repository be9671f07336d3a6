// Q's INT8 scale granularity (numerics::QGranularity): the per-warp recipe gives every 16-row group its own scale,
// the per-block one a scale per 128 rows; both reach the kernels through one workspace layout (the GPU side:
// gpu/test_sage_int8_paths.cpp, gpu/test_attention_cuda.cpp).
#include <gtest/gtest.h>

#include <cmath>

#include "sageval/attention.h"
#include "sageval/attention_inputs.h"
#include "sageval/emulation.h"
#include "sageval/metrics.h"
#include "sageval/quantize.h"

namespace sageval {
namespace {

using numerics::QGranularity;

TEST(QGranularity, EachGroupOfRowsHasItsOwnScale) {
  const AttentionShape s{1, 2, 1, 300, 300, 64};
  auto in = make_attention_inputs(s, InputFamily::Gaussian, at::kHalf, Layout::HND, 7);
  const double sm_scale = 0.125;
  const float scale_log2 = numerics::qk_scale_log2(static_cast<float>(sm_scale));
  const at::Tensor x = in.q.to(at::kFloat) * scale_log2;
  for (const QGranularity g : {QGranularity::kPerBlock, QGranularity::kPerWarp}) {
    const int rows = numerics::q_scale_rows(g);
    const SageInt8QK qk = quantize_sage_int8_qk(in.q, in.k, sm_scale, true, false, g);
    const int64_t groups = (300 + rows - 1) / rows;
    ASSERT_EQ(qk.q.scales.size(2), groups) << rows << " rows per scale";
    for (int64_t i = 0; i < groups; ++i) {
      const at::Tensor amax = x.slice(2, i * rows, std::min<int64_t>(300, (i + 1) * rows)).abs().amax({2, 3});
      EXPECT_TRUE(at::equal(qk.q.scales.select(2, i), amax / 127.0f)) << rows << " rows per scale, group " << i;
    }
  }
  EXPECT_EQ(numerics::q_scale_rows(QGranularity::kPerWarp), 16);
  EXPECT_EQ(numerics::q_scale_rows(QGranularity::kPerBlock), numerics::kQBlockRows);
}

// Rows whose norms differ from one 16-row group to the next (as queries of different tokens do): a per-block scale
// is set by the block's largest group and leaves the small ones few INT8 steps, a per-warp scale fits each group.
// The per-warp recipe must then be the more accurate against math; both backends run the same emulation otherwise.
class QGranularityGain : public ::testing::TestWithParam<int> {};

TEST_P(QGranularityGain, PerWarpHelpsWhereRowNormsVary) {
  const int d = GetParam();
  const AttentionShape s{1, 4, 2, 1000, 1000, d};
  auto in = make_attention_inputs(s, InputFamily::Gaussian, at::kHalf, Layout::HND, 41 + d);
  // Group g of 16 rows scaled by 0.1 ... 4 (deterministic, cycling every 8 groups, so each 128-row block has all).
  at::Tensor group = at::arange(1000, at::TensorOptions().dtype(at::kFloat)).div(16, "floor").remainder(8);
  at::Tensor factor = (group * 0.55f + 0.1f).reshape({1, 1, 1000, 1});
  const at::Tensor q = (in.q.to(at::kFloat) * factor).to(at::kHalf);
  AttentionOptions opt;
  opt.causal = true;
  const at::Tensor ref = make_backend("math")->forward(q, in.k, in.v, opt).out;
  const double e_block = compare_tensors(make_backend("sage_int8_qblock")->forward(q, in.k, in.v, opt).out, ref).rel_l1;
  const double e_warp = compare_tensors(make_backend("sage_int8_qwarp")->forward(q, in.k, in.v, opt).out, ref).rel_l1;
  std::printf("[ figures  ] D%d varying row norms, rel_l1: Q per block %.5f, per warp %.5f (%.2fx)\n", d, e_block,
              e_warp, e_block / e_warp);
  EXPECT_LT(e_warp, e_block);
  // Plain Gaussian queries, for the record (the gain there is small).
  const at::Tensor ref_g = make_backend("math")->forward(in.q, in.k, in.v, opt).out;
  const double g_block = compare_tensors(make_backend("sage_int8_qblock")->forward(in.q, in.k, in.v, opt).out, ref_g).rel_l1;
  const double g_warp = compare_tensors(make_backend("sage_int8_qwarp")->forward(in.q, in.k, in.v, opt).out, ref_g).rel_l1;
  std::printf("[ figures  ] D%d Gaussian, rel_l1: Q per block %.5f, per warp %.5f\n", d, g_block, g_warp);
}

INSTANTIATE_TEST_SUITE_P(HeadDims, QGranularityGain, ::testing::Values(64, 128),
                         [](const ::testing::TestParamInfo<int>& info) { return "D" + std::to_string(info.param); });

}  // namespace
}  // namespace sageval
