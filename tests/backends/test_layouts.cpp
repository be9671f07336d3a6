// HND and NHD inputs give the same result (transposed), strided views are read correctly, the default scale is
// 1/sqrt(D), a custom scale is honoured, and bottom-right causal masking and fully masked rows behave as the
// interface says.
#include <gtest/gtest.h>

#include <cmath>

#include "sageval/attention.h"
#include "sageval/attention_inputs.h"

namespace sageval {
namespace {

const char* kBackends[] = {"math", "fp16", "sage_int8"};

// Batch 2, 4 query heads over 2 kv heads, head dim 64.
AttentionShape small_shape(int64_t nq, int64_t nk) { return {2, 4, 2, nq, nk, 64}; }

class PerBackend : public ::testing::TestWithParam<const char*> {};

TEST_P(PerBackend, NhdEqualsTransposedHnd) {
  auto backend = make_backend(GetParam());
  auto hnd = make_attention_inputs(small_shape(70, 130), InputFamily::Gaussian, at::kHalf, Layout::HND, 1);
  AttentionOptions o;
  o.causal = true;
  o.return_lse = true;
  AttentionOutput a = backend->forward(hnd.q, hnd.k, hnd.v, o);
  o.layout = Layout::NHD;
  AttentionOutput b = backend->forward(hnd.q.transpose(1, 2).contiguous(), hnd.k.transpose(1, 2).contiguous(),
                                       hnd.v.transpose(1, 2).contiguous(), o);
  ASSERT_EQ(b.out.sizes(), (std::vector<int64_t>{2, 70, 4, 64}));
  EXPECT_TRUE(at::equal(a.out, b.out.transpose(1, 2)));
  EXPECT_TRUE(at::equal(a.lse, b.lse));
}

TEST_P(PerBackend, FusedQkvViewMatchesContiguousCopies) {
  auto backend = make_backend(GetParam());
  // One [B, N, 3 * H, D] buffer, q/k/v as strided NHD views into it, as a fused QKV projection produces.
  at::Tensor qkv = at::randn({2, 50, 3 * 4, 64}).to(at::kHalf);
  at::Tensor q = qkv.slice(2, 0, 4), k = qkv.slice(2, 4, 6), v = qkv.slice(2, 8, 10);
  AttentionOptions o;
  o.layout = Layout::NHD;
  at::Tensor from_views = backend->forward(q, k, v, o).out;
  at::Tensor from_copies = backend->forward(q.contiguous(), k.contiguous(), v.contiguous(), o).out;
  EXPECT_TRUE(at::equal(from_views, from_copies));
}

TEST_P(PerBackend, DefaultScaleIsInverseSqrtHeadDimAndCustomScaleIsUsed) {
  auto backend = make_backend(GetParam());
  auto in = make_attention_inputs(small_shape(40, 40), InputFamily::Gaussian, at::kHalf, Layout::HND, 2);
  AttentionOptions explicit_default;
  explicit_default.sm_scale = 1.0 / 8.0;
  EXPECT_TRUE(at::equal(backend->forward(in.q, in.k, in.v).out, backend->forward(in.q, in.k, in.v, explicit_default).out));
  AttentionOptions sharp;
  sharp.sm_scale = 0.5;
  at::Tensor a = backend->forward(in.q, in.k, in.v, sharp).out.to(at::kDouble);
  at::Tensor ref = make_backend("math")->forward(in.q, in.k, in.v, sharp).out;
  at::Tensor wrong = make_backend("math")->forward(in.q, in.k, in.v).out;
  EXPECT_LT((a - ref).abs().max().item<double>(), 0.1 * (wrong - ref).abs().max().item<double>());
}

TEST_P(PerBackend, CausalIsBottomRightAndUnseeingRowsAreZero) {
  auto backend = make_backend(GetParam());
  // Nq > Nk: the first Nq - Nk queries see no key; query Nq-Nk+j sees keys 0..j.
  auto in = make_attention_inputs(small_shape(40, 24), InputFamily::Gaussian, at::kHalf, Layout::HND, 4);
  AttentionOptions o;
  o.causal = true;
  o.return_lse = true;
  AttentionOutput r = backend->forward(in.q, in.k, in.v, o);
  EXPECT_EQ(r.out.slice(2, 0, 16).abs().max().item<double>(), 0.0);
  EXPECT_TRUE(at::isinf(r.lse.slice(2, 0, 16)).all().item<bool>());
  EXPECT_TRUE(at::isfinite(r.out).all().item<bool>());
  // Query 16 sees only key 0: its output is v[key 0] of its kv head.
  at::Tensor expected = in.v.select(2, 0).repeat_interleave(2, 1);
  EXPECT_LT((r.out.select(2, 16).to(at::kDouble) - expected.to(at::kDouble)).abs().max().item<double>(), 2e-3);
  // One query against a long cache (decode) sees every key: the same as non-causal.
  auto dec = make_attention_inputs(small_shape(1, 300), InputFamily::Gaussian, at::kHalf, Layout::HND, 6);
  AttentionOptions plain;
  EXPECT_TRUE(at::equal(backend->forward(dec.q, dec.k, dec.v, o).out, backend->forward(dec.q, dec.k, dec.v, plain).out));
}

INSTANTIATE_TEST_SUITE_P(Backends, PerBackend, ::testing::ValuesIn(kBackends),
                         [](const ::testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

TEST(ConstantV, OutputEqualsV) {
  // Rows of P sum to 1, and the 16-bit backends take the row sum from the same rounded P as the numerator.
  at::Tensor q = at::randn({1, 2, 200, 128}).to(at::kHalf);
  at::Tensor k = at::randn({1, 2, 200, 128}).to(at::kHalf);
  at::Tensor v = at::full({1, 2, 200, 128}, 3.140625).to(at::kHalf);
  for (const char* name : kBackends) {
    at::Tensor out = make_backend(name)->forward(q, k, v).out.to(at::kDouble);
    EXPECT_LT((out - 3.140625).abs().max().item<double>(), 1e-6) << name;
  }
}

}  // namespace
}  // namespace sageval
