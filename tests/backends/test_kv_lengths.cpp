// AttentionOptions::kv_lengths (a static cache of which only the start is filled) and decode calls: on CPU every
// backend gives, row by row, what it gives on the row's slice of keys; bad lengths are errors naming them; and
// sage_int8 runs decode calls as fp16 does (the same rule on every device: kernels::is_decode_call).
#include <gtest/gtest.h>

#include "sageval/attention.h"
#include "sageval/attention_inputs.h"
#include "sageval/kernels/attention_problem.h"

namespace sageval {
namespace {

at::Tensor lengths(std::vector<int32_t> v) { return at::tensor(v, at::TensorOptions().dtype(at::kInt)); }

class KvLengths : public ::testing::TestWithParam<const char*> {};

TEST_P(KvLengths, EachRowEqualsItsSliceOfKeys) {
  auto backend = make_backend(GetParam());
  // 3 rows over 300 keys; the rows use 300, 117 and 0 of them. Two query tokens: causal alignment follows the
  // row's length (row 2 sees no key: output 0, LSE -inf).
  auto in = make_attention_inputs({3, 4, 2, 2, 300, 64}, InputFamily::Gaussian, at::kHalf, Layout::NHD, 5);
  for (bool causal : {false, true}) {
    AttentionOptions o;
    o.layout = Layout::NHD;
    o.causal = causal;
    o.return_lse = backend->capabilities().lse;
    o.kv_lengths = lengths({300, 117, 0});
    const AttentionOutput all = backend->forward(in.q, in.k, in.v, o);
    ASSERT_EQ(all.out.sizes(), in.q.sizes());
    o.kv_lengths = at::Tensor();
    const int64_t used[3] = {300, 117, 0};
    for (int64_t b = 0; b < 2; ++b) {
      auto row = [&](const at::Tensor& t) { return t.slice(0, b, b + 1); };
      // The slice alone is not a decode call (2 x 2 rows over 117 keys): fp16 numerics either way here.
      const AttentionOutput one = backend->forward(row(in.q), row(in.k).slice(1, 0, used[b]), row(in.v).slice(1, 0, used[b]), o);
      EXPECT_TRUE(at::equal(row(all.out), one.out)) << "row " << b << (causal ? " causal" : "");
      if (o.return_lse) EXPECT_TRUE(at::equal(row(all.lse), one.lse)) << "row " << b;
    }
    EXPECT_EQ(all.out.slice(0, 2, 3).abs().max().item<double>(), 0.0);
    if (o.return_lse) EXPECT_TRUE(at::isinf(all.lse.slice(0, 2, 3)).all().item<bool>());
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, KvLengths, ::testing::Values("math", "fp16"),
                         [](const ::testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

TEST(KvLengths, BadLengthsAreErrorsNamingThem) {
  auto backend = make_backend("fp16");
  auto in = make_attention_inputs({2, 2, 2, 1, 64, 64}, InputFamily::Gaussian, at::kHalf, Layout::HND, 1);
  auto message = [&](const at::Tensor& lens) {
    AttentionOptions o;
    o.kv_lengths = lens;
    try {
      backend->forward(in.q, in.k, in.v, o);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(lengths({64, 65})).find("kv_lengths must lie in [0, 64]"), std::string::npos);
  EXPECT_NE(message(lengths({-1, 3})).find("kv_lengths must lie in [0, 64]"), std::string::npos);
  EXPECT_NE(message(lengths({3})).find("kv_lengths must be int32 [batch] = [2]"), std::string::npos);
  EXPECT_NE(message(lengths({3, 4}).to(at::kLong)).find("kv_lengths must be int32"), std::string::npos);
  EXPECT_NE(message(lengths({3, 4, 5, 6}).slice(0, 0, 4, 2)).find("kv_lengths must be contiguous"), std::string::npos);
}

TEST(KvLengths, OnlyTheKeysThatCountAreScannedForNonFiniteValues) {
  auto backend = make_backend("fp16");
  auto in = make_attention_inputs({2, 2, 2, 1, 64, 64}, InputFamily::Gaussian, at::kHalf, Layout::HND, 1);
  in.k.select(0, 1).slice(1, 40).fill_(NAN);  // row 1 past its 40 keys: an unfilled static cache
  AttentionOptions o;
  o.kv_lengths = lengths({64, 40});
  EXPECT_NO_THROW(backend->forward(in.q, in.k, in.v, o));
  o.kv_lengths = lengths({64, 41});
  EXPECT_THROW(backend->forward(in.q, in.k, in.v, o), std::invalid_argument);
}

TEST(DecodeCall, FewRowsPerKvHeadAgainstManyKeysOrAStaticCache) {
  EXPECT_TRUE(kernels::is_decode_call(1, 32, 8, 256, false));
  EXPECT_FALSE(kernels::is_decode_call(1, 32, 8, 255, false));
  EXPECT_TRUE(kernels::is_decode_call(1, 32, 8, 255, true));  // kv_lengths: the decode kernel at any length
  EXPECT_TRUE(kernels::is_decode_call(4, 32, 8, 4096, false));   // 16 rows
  EXPECT_FALSE(kernels::is_decode_call(5, 32, 8, 4096, false));  // 20 rows
  EXPECT_FALSE(kernels::is_decode_call(1, 32, 0, 4096, false));
}

TEST(DecodeCall, SageInt8RunsDecodeAsFp16AndPrefillInInt8) {
  auto sage = make_backend("sage_int8"), fp16 = make_backend("fp16");
  AttentionOptions o;
  o.return_lse = true;
  o.causal = true;
  auto decode = make_attention_inputs({1, 8, 2, 1, 400, 128}, InputFamily::Gaussian, at::kHalf, Layout::HND, 3);
  const AttentionOutput a = sage->forward(decode.q, decode.k, decode.v, o), b = fp16->forward(decode.q, decode.k, decode.v, o);
  EXPECT_TRUE(at::equal(a.out, b.out));
  EXPECT_TRUE(at::equal(a.lse, b.lse));
  // 5 query rows per kv head x 4 tokens = 20 > 16: not decode, the INT8 recipe (which differs from fp16).
  auto chunk = make_attention_inputs({1, 8, 2, 5, 400, 128}, InputFamily::Gaussian, at::kHalf, Layout::HND, 3);
  EXPECT_FALSE(at::equal(sage->forward(chunk.q, chunk.k, chunk.v, o).out, fp16->forward(chunk.q, chunk.k, chunk.v, o).out));
}

}  // namespace
}  // namespace sageval
