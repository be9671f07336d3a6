// Error metrics on hand-computed cases.
#include <gtest/gtest.h>

#include <cmath>

#include "sageval/metrics.h"

namespace sageval {
namespace {

TEST(ErrorStats, HandComputedVector) {
  // a = (1, 2, 3), b = (1, 2, 4): a.b = 17, |a|^2 = 14, |b|^2 = 21, sum|a-b| = 1, sum|b| = 7.
  ErrorStats s = compare_tensors(at::tensor({1.0, 2.0, 3.0}), at::tensor({1.0, 2.0, 4.0}));
  EXPECT_NEAR(s.cosine, 17.0 / std::sqrt(14.0 * 21.0), 1e-15);
  EXPECT_NEAR(s.rel_l1, 1.0 / 7.0, 1e-15);
  EXPECT_NEAR(s.rmse, std::sqrt(1.0 / 3.0), 1e-15);
  EXPECT_NEAR(s.nmse, 1.0 / 21.0, 1e-15);
  EXPECT_DOUBLE_EQ(s.max_abs, 1.0);
  EXPECT_EQ(s.nan_count, 0);
  EXPECT_EQ(s.inf_count, 0);
}

TEST(ErrorStats, IdenticalAndZeroConventions) {
  at::Tensor x = at::randn({2, 3, 4, 5});
  ErrorStats same = compare_tensors(x, x);
  EXPECT_DOUBLE_EQ(same.cosine, 1.0);
  EXPECT_DOUBLE_EQ(same.rel_l1, 0.0);
  EXPECT_DOUBLE_EQ(same.max_abs, 0.0);
  ErrorStats zeros = compare_tensors(at::zeros({3}), at::zeros({3}));
  EXPECT_DOUBLE_EQ(zeros.cosine, 1.0);
  EXPECT_DOUBLE_EQ(zeros.rel_l1, 0.0);
  ErrorStats one_zero = compare_tensors(at::ones({3}), at::zeros({3}));
  EXPECT_DOUBLE_EQ(one_zero.cosine, 0.0);
  EXPECT_TRUE(std::isinf(one_zero.rel_l1));
}

TEST(ErrorStats, CountsNaNAndInfAndPoisonsFigures) {
  at::Tensor a = at::tensor({1.0, NAN, INFINITY, 2.0});
  ErrorStats s = compare_tensors(a, at::ones({4}, at::kDouble));
  EXPECT_EQ(s.nan_count, 1);
  EXPECT_EQ(s.inf_count, 1);
  EXPECT_TRUE(std::isnan(s.cosine));  // never a passing value
  EXPECT_TRUE(std::isnan(s.max_abs));
}

TEST(ErrorStats, WorstHeadAndRowFindTheBadOnes) {
  at::Generator gen = at::detail::createCPUGenerator(17);
  at::Tensor ref = at::randn({1, 4, 8, 16}, gen, at::kDouble);
  // Row 5 of head 1 four times larger than its neighbours: reversed, it makes head 1's cosine negative whatever
  // the draw (with a row of ordinary size the head cosine was 0.75-0.92 depending on the draw: a flaky bound).
  ref[0][1][5].mul_(4.0);
  at::Tensor out = ref.clone();
  out[0][2] += 0.1 * at::randn({8, 16}, gen, at::kDouble);  // head 2 slightly off everywhere
  out[0][1][5] = -ref[0][1][5];                               // one row of head 1 reversed
  ErrorStats s = compare_tensors(out, ref);
  EXPECT_NEAR(s.worst_row_cosine, -1.0, 1e-12);
  EXPECT_NEAR(s.worst_row_rel_l1, 2.0, 1e-12);
  EXPECT_LT(s.worst_head_cosine, 0.9);  // head 1: one of eight rows reversed
  EXPECT_GT(s.cosine, s.worst_head_cosine);
  // Head-level relative L1 of head 1: 2 * sum|row 5| / sum|head 1|.
  const double head1 = 2.0 * ref[0][1][5].abs().sum().item<double>() / ref[0][1].abs().sum().item<double>();
  EXPECT_GE(s.worst_head_rel_l1, head1 - 1e-12);
}

}  // namespace
}  // namespace sageval
