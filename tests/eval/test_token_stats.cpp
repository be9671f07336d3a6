// Token-comparison statistics (llama.cpp --kl-divergence definitions) on hand-computed cases.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "sageval/eval/token_stats.h"

namespace sageval::eval {
namespace {

const double kLn3 = std::log(3.0);

at::Tensor rows(std::vector<std::vector<double>> r) {
  std::vector<at::Tensor> t;
  for (auto& v : r) t.push_back(at::tensor(v, at::kDouble));
  return at::stack(t).to(at::kFloat);
}
at::Tensor ids(std::vector<int64_t> v) { return at::tensor(v, at::kLong); }

// Expects std::invalid_argument whose message contains `needle`.
template <typename F>
void expect_invalid(F f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one naming '" << needle << "'";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(TokenStats, TwoTokenVocabHandComputed) {
  // Row 0: base [0, ln 3] -> p = (1/4, 3/4); cand [0, ln 1.5] -> q = (2/5, 3/5); target 1.
  //   nll_base = -ln(3/4) = ln(4/3), nll_cand = -ln(3/5) = ln(5/3)
  //   KL = 1/4 ln((1/4)/(2/5)) + 3/4 ln((3/4)/(3/5)) = 1/4 ln(5/8) + 3/4 ln(5/4)
  //   dp = 3/5 - 3/4 = -0.15; top-1 is index 1 for both.
  // Row 1 (shifted by +5, which log_softmax ignores): base [5, 5 + ln 3] -> p = (1/4, 3/4);
  //   cand [5 + ln 3, 5] -> q = (3/4, 1/4); target 0.
  //   nll_base = ln 4, nll_cand = ln(4/3); KL = 1/4 ln(1/3) + 3/4 ln 3 = (1/2) ln 3; dp = 3/4 - 1/4 = +1/2;
  //   top-1 flips (1 -> 0).
  TokenComparison tc;
  tc.add(rows({{0, kLn3}, {5, 5 + kLn3}}), rows({{0, std::log(1.5)}, {5 + kLn3, 5}}), ids({1, 0}));
  ASSERT_EQ(tc.size(), 2);
  const double kl0 = 0.25 * std::log(5.0 / 8.0) + 0.75 * std::log(5.0 / 4.0);
  const double kl1 = 0.5 * kLn3;
  const double tol = 1e-6;  // logits pass through float32
  EXPECT_NEAR(tc.kld()[0], kl0, tol);
  EXPECT_NEAR(tc.kld()[1], kl1, tol);
  EXPECT_NEAR(tc.nll_base()[0], std::log(4.0 / 3.0), tol);
  EXPECT_NEAR(tc.nll_cand()[0], std::log(5.0 / 3.0), tol);
  EXPECT_NEAR(tc.nll_base()[1], std::log(4.0), tol);
  EXPECT_NEAR(tc.nll_cand()[1], std::log(4.0 / 3.0), tol);
  EXPECT_NEAR(tc.delta_p()[0], -0.15, tol);
  EXPECT_NEAR(tc.delta_p()[1], 0.5, tol);

  TokenStatsSummary s = tc.summarize();
  EXPECT_EQ(s.n, 2);
  EXPECT_NEAR(s.kld_mean, (kl0 + kl1) / 2, tol);
  EXPECT_NEAR(s.kld_max, kl1, tol);                      // kl1 ~ 0.549 > kl0 ~ 0.050
  EXPECT_NEAR(s.kld_median, (kl0 + kl1) / 2, tol);       // r = 0.5 (n - 1) = 0.5
  // One of two top-1s agrees: rate 1/2 +- sqrt(1/2 * 1/2 / (2 - 1)) = 1/2.
  EXPECT_DOUBLE_EQ(s.same_top1, 0.5);
  EXPECT_DOUBLE_EQ(s.same_top1_unc, 0.5);
  EXPECT_NEAR(s.dp_mean, (0.5 - 0.15) / 2, tol);
  EXPECT_NEAR(s.dp_rms, std::sqrt((0.15 * 0.15 + 0.25) / 2), tol);
  // Mean NLLs: base (ln(4/3) + ln 4)/2 = ln(4/sqrt 3); cand (ln(5/3) + ln(4/3))/2 = ln(sqrt(20)/3).
  EXPECT_NEAR(s.ppl_base, 4.0 / std::sqrt(3.0), tol);
  EXPECT_NEAR(s.ppl_cand, std::sqrt(20.0) / 3.0, tol);
  EXPECT_NEAR(s.ppl_ratio, (std::sqrt(20.0) / 3.0) / (4.0 / std::sqrt(3.0)), tol);
  EXPECT_NEAR(s.ln_ppl_ratio, std::log(s.ppl_cand / s.ppl_base), 1e-12);
  EXPECT_DOUBLE_EQ(s.nll_diff_mean, s.ln_ppl_ratio);
}

TEST(TokenStats, TopOneFlipCountsDisagreement) {
  // base [2, 0, 1] -> top 0; cand [0, 2, 1] -> top 1: flipped. Second row agrees (top 2 both).
  TokenComparison tc;
  tc.add(rows({{2, 0, 1}, {0, 1, 3}}), rows({{0, 2, 1}, {1, 0, 2}}), ids({0, 2}));
  TokenStatsSummary s = tc.summarize();
  EXPECT_DOUBLE_EQ(s.same_top1, 0.5);
  EXPECT_GT(s.kld_max, 0.0);
}

TEST(TokenStats, IdenticalInputsGiveZeroDivergence) {
  at::manual_seed(7);
  at::Tensor logits = at::randn({64, 50}) * 3;
  at::Tensor targets = at::randint(0, 50, {64}, at::kLong);
  TokenComparison tc;
  tc.add(logits, logits.clone(), targets);
  TokenStatsSummary s = tc.summarize();
  EXPECT_EQ(s.n, 64);
  EXPECT_DOUBLE_EQ(s.kld_mean, 0.0);
  EXPECT_DOUBLE_EQ(s.kld_max, 0.0);
  EXPECT_DOUBLE_EQ(s.dp_mean, 0.0);
  EXPECT_DOUBLE_EQ(s.dp_rms, 0.0);
  EXPECT_DOUBLE_EQ(s.dp_rms_unc, 0.0);
  EXPECT_DOUBLE_EQ(s.same_top1, 1.0);
  EXPECT_DOUBLE_EQ(s.same_top1_unc, 0.0);
  EXPECT_DOUBLE_EQ(s.ppl_ratio, 1.0);
  EXPECT_DOUBLE_EQ(s.ppl_ratio_unc, 0.0);
  EXPECT_DOUBLE_EQ(s.ln_ppl_ratio_unc, 0.0);
  EXPECT_DOUBLE_EQ(s.ppl_diff, 0.0);
  EXPECT_DOUBLE_EQ(s.ppl_base, s.ppl_cand);
  EXPECT_GT(s.ppl_base_unc, 0.0);  // each perplexity alone is uncertain; the ratio is not
  EXPECT_NEAR(s.nll_correlation, 1.0, 1e-12);
}

TEST(TokenStats, SplitAddsMatchOneAdd) {
  at::manual_seed(3);
  at::Tensor b = at::randn({10, 7}), c = b + 0.3 * at::randn({10, 7});
  at::Tensor t = at::randint(0, 7, {10}, at::kLong);
  TokenComparison one, two;
  one.add(b, c, t);
  two.add(b.slice(0, 0, 4), c.slice(0, 0, 4), t.slice(0, 0, 4));
  two.add(b.slice(0, 4), c.slice(0, 4), t.slice(0, 4));
  EXPECT_EQ(one.kld(), two.kld());
  EXPECT_EQ(one.nll_cand(), two.nll_cand());
  EXPECT_DOUBLE_EQ(one.summarize().ppl_ratio_unc, two.summarize().ppl_ratio_unc);
}

TEST(TokenStats, PercentilesOnKnownSet) {
  // KLDs 0..10 in scrambled order. Linear interpolation at r = p (n - 1) = 10 p on the sorted values:
  // 90% -> 9, 95% -> 9.5, 99% -> 9.9, 99.9% -> 9.99, median -> 5, max -> 10.
  TokenComparison tc;
  for (double v : {7.0, 3.0, 10.0, 0.0, 5.0, 1.0, 9.0, 2.0, 8.0, 6.0, 4.0}) tc.add_token_values(1, 1, v, 0, true);
  TokenStatsSummary s = tc.summarize();
  EXPECT_DOUBLE_EQ(s.kld_max, 10.0);
  EXPECT_NEAR(s.kld_p999, 9.99, 1e-12);
  EXPECT_NEAR(s.kld_p99, 9.9, 1e-12);
  EXPECT_NEAR(s.kld_p95, 9.5, 1e-12);
  EXPECT_NEAR(s.kld_p90, 9.0, 1e-12);
  EXPECT_NEAR(s.kld_median, 5.0, 1e-12);
  // Even count: {1, 2, 3, 4}, median at r = 1.5 -> 2.5; 90% at r = 2.7 -> 3.7.
  EXPECT_DOUBLE_EQ(percentile_sorted({1, 2, 3, 4}, 0.5), 2.5);
  EXPECT_NEAR(percentile_sorted({1, 2, 3, 4}, 0.9), 3.7, 1e-12);
  EXPECT_DOUBLE_EQ(percentile_sorted({1, 2, 3, 4}, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(percentile_sorted({1, 2, 3, 4}, 1.0), 4.0);
  EXPECT_DOUBLE_EQ(percentile_sorted({42}, 0.99), 42.0);
}

TEST(TokenStats, StandardErrorOfMeanOnKnownSet) {
  // x = 1..5: mean 3, sum (x - 3)^2 = 10, stderr = sqrt(10 / (5 * 4)) = sqrt(0.5).
  // dp = x / 10: mean 0.3 +- sqrt(0.5)/10. dp^2 = {1, 4, 9, 16, 25}/100: mean 0.11, so RMS = sqrt(0.11);
  // sum (dp^2 - 0.11)^2 = (100 + 49 + 4 + 25 + 196)/1e4 = 374e-4, stderr(dp^2) = sqrt(374e-4 / 20);
  // RMS unc = 0.5 / sqrt(0.11) * sqrt(374e-4 / 20).
  TokenComparison tc;
  for (int k = 1; k <= 5; ++k) tc.add_token_values(1, 1, k, k / 10.0, k != 3);
  TokenStatsSummary s = tc.summarize();
  EXPECT_DOUBLE_EQ(s.kld_mean, 3.0);
  EXPECT_NEAR(s.kld_mean_unc, std::sqrt(0.5), 1e-14);
  EXPECT_NEAR(s.dp_mean, 0.3, 1e-14);
  EXPECT_NEAR(s.dp_mean_unc, std::sqrt(0.5) / 10, 1e-14);
  EXPECT_NEAR(s.dp_rms, std::sqrt(0.11), 1e-14);
  EXPECT_NEAR(s.dp_rms_unc, 0.5 / std::sqrt(0.11) * std::sqrt(374e-4 / 20), 1e-14);
  // 4 of 5 agree: 0.8 +- sqrt(0.8 * 0.2 / 4) = 0.2.
  EXPECT_DOUBLE_EQ(s.same_top1, 0.8);
  EXPECT_NEAR(s.same_top1_unc, 0.2, 1e-15);
}

TEST(TokenStats, RatioUncertaintyForShiftedNllsIsZero) {
  // nll_cand = nll_base + 0.5 on every token: perfectly correlated, so ln ratio = 0.5 exactly known:
  // var_c = var_b = cov -> sqrt(var_c + var_b - 2 cov) = 0, while each PPL alone has stderr sqrt(0.5).
  TokenComparison tc;
  for (int k = 1; k <= 5; ++k) tc.add_token_values(k, k + 0.5, 0, 0, true);
  TokenStatsSummary s = tc.summarize();
  EXPECT_NEAR(s.ln_ppl_ratio, 0.5, 1e-14);
  EXPECT_NEAR(s.ppl_ratio, std::exp(0.5), 1e-13);
  EXPECT_NEAR(s.ln_ppl_ratio_unc, 0.0, 1e-7);
  EXPECT_NEAR(s.ppl_ratio_unc, 0.0, 1e-7);
  EXPECT_NEAR(s.nll_base_unc, std::sqrt(0.5), 1e-14);
  EXPECT_NEAR(s.ppl_base, std::exp(3.0), 1e-11);
  EXPECT_NEAR(s.ppl_base_unc, std::exp(3.0) * std::sqrt(0.5), 1e-11);
  EXPECT_NEAR(s.nll_correlation, 1.0, 1e-12);
}

TEST(TokenStats, CorrelatedRatioUncertaintyMatchesRawSumFormula) {
  // Strongly correlated NLLs with small independent noise. Independent computation with llama.cpp's raw sums:
  //   u_x^2 = (sum x^2 / n - (sum x / n)^2) / (n - 1),  cov = (sum ab / n - (sum a / n)(sum b / n)) / (n - 1)
  //   unc(ln ratio) = sqrt(u_c^2 + u_b^2 - 2 cov),  unc(ratio) = ratio * unc(ln ratio)
  const std::vector<double> base = {0.5, 3.0, 1.2, 6.0, 2.2, 0.1, 4.4, 2.9, 1.7, 5.1};
  const std::vector<double> noise = {0.02, -0.01, 0.03, 0.00, -0.02, 0.01, 0.04, -0.03, 0.01, 0.02};
  TokenComparison tc;
  double sb = 0, sc = 0, sbb = 0, scc = 0, sbc = 0;
  const double n = static_cast<double>(base.size());
  for (size_t i = 0; i < base.size(); ++i) {
    const double c = base[i] + 0.05 + noise[i];
    tc.add_token_values(base[i], c, 0, 0, true);
    sb += base[i], sc += c, sbb += base[i] * base[i], scc += c * c, sbc += base[i] * c;
  }
  const double ub2 = (sbb / n - (sb / n) * (sb / n)) / (n - 1);
  const double uc2 = (scc / n - (sc / n) * (sc / n)) / (n - 1);
  const double cov = (sbc / n - (sb / n) * (sc / n)) / (n - 1);
  const double ratio = std::exp(sc / n - sb / n);
  const double ln_unc = std::sqrt(uc2 + ub2 - 2 * cov);
  const double uncorrelated = ratio * std::sqrt(uc2 + ub2);

  TokenStatsSummary s = tc.summarize();
  EXPECT_NEAR(s.ppl_ratio, ratio, 1e-12);
  EXPECT_NEAR(s.nll_covariance, cov, 1e-12);
  EXPECT_NEAR(s.ln_ppl_ratio_unc, ln_unc, 1e-9);
  EXPECT_NEAR(s.ppl_ratio_unc, ratio * ln_unc, 1e-9);
  EXPECT_LT(s.ppl_ratio_unc, 0.05 * uncorrelated);  // correlation removes > 95% of the naive error
  EXPECT_GT(s.nll_correlation, 0.999);
  // PPL difference: sqrt(u_Q^2 + u_b^2 - 2 PPL_Q PPL_b cov) with u = PPL * stderr.
  const double pq = std::exp(sc / n), pb = std::exp(sb / n);
  EXPECT_NEAR(s.ppl_diff, pq - pb, 1e-12);
  EXPECT_NEAR(s.ppl_diff_unc, std::sqrt(pq * pq * uc2 + pb * pb * ub2 - 2 * pq * pb * cov), 1e-8);
}

TEST(TokenStats, SingleTokenHasNaNUncertaintyAndJsonStrings) {
  TokenComparison tc;
  tc.add_token_values(1.0, 2.0, 0.25, -0.1, false);
  TokenStatsSummary s = tc.summarize();
  EXPECT_EQ(s.n, 1);
  EXPECT_TRUE(std::isnan(s.kld_mean_unc));
  EXPECT_TRUE(std::isnan(s.ppl_ratio_unc));
  nlohmann::json j = to_json(s);
  EXPECT_EQ(j["n"], 1);
  EXPECT_EQ(j["kld_mean_unc"], "nan");
  EXPECT_DOUBLE_EQ(j["kld_mean"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(j["same_top1"].get<double>(), 0.0);
  EXPECT_NEAR(j["ppl_ratio"].get<double>(), std::exp(1.0), 1e-12);
  EXPECT_TRUE(j.contains("kld_p99_9"));
}

TEST(TokenStats, InfiniteNllSerialisesAsString) {
  TokenComparison tc;
  tc.add_token_values(1.0, INFINITY, INFINITY, -0.5, false);
  tc.add_token_values(1.0, 1.0, 0.0, 0.0, true);
  nlohmann::json j = to_json(tc.summarize());
  EXPECT_EQ(j["kld_max"], "inf");
  EXPECT_EQ(j["ppl_cand"], "inf");
}

TEST(TokenStats, MaskedLogitsContributeNothing) {
  // A -inf logit in both runs (p = q = 0) adds 0 to KL, not NaN; base [0, ln 3, -inf], cand [0, 0, -inf]:
  // KL = 1/4 ln(1/2) + 3/4 ln(3/2).
  TokenComparison tc;
  tc.add(rows({{0, kLn3, -INFINITY}}), rows({{0, 0, -INFINITY}}), ids({1}));
  EXPECT_NEAR(tc.kld()[0], 0.25 * std::log(0.5) + 0.75 * std::log(1.5), 1e-6);
}

TEST(TokenStats, FormatSummaryHasLlamaCppBlocks) {
  TokenComparison tc;
  for (int k = 1; k <= 5; ++k) tc.add_token_values(k, k + 0.1, 0.01 * k, 0.001 * k, k != 2);
  const std::string text = format_summary(tc.summarize());
  for (const char* needle : {"====== Perplexity statistics ======", "Mean PPL(Q)/PPL(base)", "Cor(ln(PPL(Q)), ln(PPL(base)))",
                             "====== KL divergence statistics ======", "Mean    KLD:", "99.9%   KLD:", "Median  KLD:",
                             "====== Token probability statistics ======", "RMS Δp", "Same top p: 80.000 ± 20.000 %"})
    EXPECT_NE(text.find(needle), std::string::npos) << needle << "\n" << text;
}

TEST(TokenStats, RejectsBadInput) {
  TokenComparison tc;
  at::Tensor b = at::zeros({2, 4});
  expect_invalid([&] { tc.add(b, at::zeros({2, 3}), ids({0, 1})); }, "cand_logits shape");
  expect_invalid([&] { tc.add(b, b, ids({0})); }, "targets has 1 ids");
  expect_invalid([&] { tc.add(b, b, at::tensor({0, 1}, at::kInt)); }, "int64");
  expect_invalid([&] { tc.add(b, b, ids({0, 4})); }, "[0, 4)");
  expect_invalid([&] { tc.add(at::zeros({0, 4}), at::zeros({0, 4}), at::zeros({0}, at::kLong)); }, "N == 0");
  expect_invalid([&] { tc.add(at::zeros({4}), at::zeros({4}), ids({0})); }, "[N, vocab]");
  at::Tensor bad = b.clone();
  bad[1][2] = NAN;
  expect_invalid([&] { tc.add(b, bad, ids({0, 1})); }, "cand_logits contains NaN");
  expect_invalid([&] { tc.add(bad, b, ids({0, 1})); }, "base_logits contains NaN");
  expect_invalid([&] { tc.add(b, at::zeros({2, 4}, at::kLong), ids({0, 1})); }, "floating point");
  EXPECT_EQ(tc.size(), 0);  // nothing half-added
  expect_invalid([&] { tc.summarize(); }, "no tokens");
  expect_invalid([&] { percentile_sorted({}, 0.5); }, "empty");
}

TEST(CompareLogits, HandExample) {
  // a = (1, 2, 3), b = (1, 0, 3): a - b = (0, 2, 0) -> max_abs 2, mse 4/3; a.b = 10, |a|^2 = 14, |b|^2 = 10.
  LogitStats s = compare_logits(at::tensor({1.0f, 2.0f, 3.0f}), at::tensor({1.0f, 0.0f, 3.0f}));
  EXPECT_DOUBLE_EQ(s.max_abs, 2.0);
  EXPECT_NEAR(s.mse, 4.0 / 3.0, 1e-15);
  EXPECT_NEAR(s.cosine, 10.0 / std::sqrt(140.0), 1e-15);
  // Flattened over [2, 2]: same figures as the vector case.
  LogitStats m = compare_logits(at::tensor({1.0, 2.0, 3.0, 4.0}).view({2, 2}), at::tensor({1.0, 2.0, 3.0, 2.0}).view({2, 2}));
  EXPECT_DOUBLE_EQ(m.max_abs, 2.0);
  EXPECT_DOUBLE_EQ(m.mse, 1.0);
  EXPECT_NEAR(m.cosine, 22.0 / std::sqrt(30.0 * 18.0), 1e-15);
}

TEST(CompareLogits, ZeroConventionsAndErrors) {
  EXPECT_DOUBLE_EQ(compare_logits(at::zeros({3}), at::zeros({3})).cosine, 1.0);
  EXPECT_DOUBLE_EQ(compare_logits(at::ones({3}), at::zeros({3})).cosine, 0.0);
  expect_invalid([] { compare_logits(at::zeros({3}), at::zeros({4})); }, "shapes differ");
  expect_invalid([] { compare_logits(at::zeros({0}), at::zeros({0})); }, "empty");
  expect_invalid([] { compare_logits(at::tensor({1.0, NAN}), at::zeros({2}, at::kDouble)); }, "contains NaN");
}

}  // namespace
}  // namespace sageval::eval
