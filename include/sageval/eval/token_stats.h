// Token-level comparison of a candidate model run against a base run over the same scored tokens, with the
// statistics of llama.cpp's `llama-perplexity --kl-divergence` (ggml-org/llama.cpp tools/perplexity/perplexity.cpp,
// functions `log_softmax` and `kl_divergence`; notes in shared/reference/validation-anchors.md 1.1, 1.2 and 7).
//
// Per scored token t, from base logits b, candidate logits c (rows of [N, vocab]) and the target id x_t, in float64:
//   log p = log_softmax(b), log q = log_softmax(c)
//   nll_base(t) = -log p(x_t),  nll_cand(t) = -log q(x_t)                              (natural log)
//   kld(t)      = sum_i p_i (log p_i - log q_i)     KL(base || candidate), over the FULL vocabulary (llama.cpp drops
//                                                   entries with log p_i <= -16; we do not; entries with p_i = 0
//                                                   contribute 0)
//   dp(t)       = q(x_t) - p(x_t)  = exp(-nll_cand) - exp(-nll_base)
//   same(t)     = argmax(c) == argmax(b)            (first index on ties)
//
// Summary, with mean_and_uncertainty(x) = (m, sqrt(sum((x - m)^2) / (n (n - 1)))) -- llama.cpp's
// sqrt((sum2/n - m^2)/(n - 1)) evaluated in two passes -- and covariance of the means
// cov(a, b) = sum((a - ma)(b - mb)) / (n (n - 1))   (llama.cpp: (ab/n - (a/n)(b/n))/(n - 1)):
//   kld_mean +- stderr; percentiles by linear interpolation on the sorted values at position p (n - 1)
//     (llama.cpp's `percentile` lambda): v[floor(r)] (1 - f) + v[floor(r) + 1] f, r = p (n - 1), f = r - floor(r)
//   dp_mean +- stderr; dp_rms = sqrt(mean dp^2) +- 0.5 / dp_rms * stderr(dp^2)   (0 +- 0 when every dp is 0)
//   same_top1 = n_same / n +- sqrt(p (1 - p) / (n - 1))                           (binomial)
//   ppl_x = exp(mean nll_x) +- ppl_x * stderr(nll_x)                              (delta method)
//   ln_ppl_ratio = mean nll_cand - mean nll_base +- sqrt(var_c + var_b - 2 cov(nll_cand, nll_base))
//     where var_x = stderr(nll_x)^2: the two runs score the same tokens, so their per-token NLLs are strongly
//     correlated and the ratio is far better determined than either perplexity alone
//   ppl_ratio = exp(ln_ppl_ratio) +- ppl_ratio * unc(ln_ppl_ratio)
//   ppl_diff = ppl_cand - ppl_base +- sqrt(u_c^2 + u_b^2 - 2 ppl_cand ppl_base cov)
//   nll_correlation = cov / sqrt(var_c var_b)
// Uncertainties need n >= 2 (NaN otherwise). Unlike llama.cpp we do not zero them for n <= 10, nor require
// n >= 100 to print: callers decide what sample is large enough.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

namespace sageval::eval {

struct TokenStatsSummary {
  int64_t n = 0;  // tokens scored

  double kld_mean = 0.0, kld_mean_unc = 0.0;
  double kld_max = 0.0, kld_p999 = 0.0, kld_p99 = 0.0, kld_p95 = 0.0, kld_p90 = 0.0, kld_median = 0.0;

  double dp_mean = 0.0, dp_mean_unc = 0.0;  // probabilities in [-1, 1], not percent
  double dp_rms = 0.0, dp_rms_unc = 0.0;

  double same_top1 = 0.0, same_top1_unc = 0.0;

  double nll_base_mean = 0.0, nll_base_unc = 0.0;
  double nll_cand_mean = 0.0, nll_cand_unc = 0.0;
  double nll_covariance = 0.0;   // covariance of the two mean NLLs (not of the per-token values)
  double nll_correlation = 0.0;  // Cor(ln PPL(cand), ln PPL(base))
  double ppl_base = 0.0, ppl_base_unc = 0.0;
  double ppl_cand = 0.0, ppl_cand_unc = 0.0;

  double nll_diff_mean = 0.0;                     // mean(nll_cand - nll_base)
  double ln_ppl_ratio = 0.0, ln_ppl_ratio_unc = 0.0;  // ln(ppl_cand / ppl_base): equal to nll_diff_mean
  double ppl_ratio = 0.0, ppl_ratio_unc = 0.0;    // ppl_cand / ppl_base
  double ppl_diff = 0.0, ppl_diff_unc = 0.0;      // ppl_cand - ppl_base
};

class TokenComparison {
 public:
  // base_logits, cand_logits: floating [N, vocab] (any device; cand and targets are moved to base's device);
  // targets: int64 [N] in [0, vocab). Throws std::invalid_argument on shape/dtype mismatch, N == 0, vocab == 0,
  // ids out of range, NaN or +inf logits (-inf is a masked entry and allowed).
  void add(const at::Tensor& base_logits, const at::Tensor& cand_logits, const at::Tensor& targets);

  // One token's values computed elsewhere (also the hook the unit tests use to inject known sets).
  void add_token_values(double nll_base, double nll_cand, double kld, double delta_p, bool same_top1);

  // Appends every token of `other` (pooling several prompts or windows into one summary).
  void merge(const TokenComparison& other);

  int64_t size() const { return static_cast<int64_t>(kld_.size()); }
  const std::vector<double>& kld() const { return kld_; }
  const std::vector<double>& nll_base() const { return nll_base_; }
  const std::vector<double>& nll_cand() const { return nll_cand_; }
  const std::vector<double>& delta_p() const { return delta_p_; }

  // Throws std::invalid_argument when no token was added.
  TokenStatsSummary summarize() const;

 private:
  std::vector<double> nll_base_, nll_cand_, kld_, delta_p_;
  int64_t n_same_top1_ = 0;
};

// Linear interpolation on sorted values at position fraction * (n - 1) (llama.cpp's percentile); fraction is
// clamped to [0, 1]. Throws std::invalid_argument on an empty vector.
double percentile_sorted(const std::vector<double>& sorted, double fraction);

// Logit-level comparison in float64: max|a - b|, mean((a - b)^2), and cosine over the flattened tensors
// (1 when both are all zero, 0 when only one is; the conventions of sageval::compare_tensors).
struct LogitStats {
  double max_abs = 0.0;
  double mse = 0.0;
  double cosine = 0.0;
};
// Same shapes, non-empty, no NaN; otherwise std::invalid_argument.
LogitStats compare_logits(const at::Tensor& a, const at::Tensor& b);

// Flat object, one key per field; non-finite numbers as "nan" / "inf" / "-inf" (sageval::json_number).
nlohmann::json to_json(const TokenStatsSummary& summary);
// A block like llama.cpp's KL-divergence output: perplexity, KL divergence and token probability statistics.
std::string format_summary(const TokenStatsSummary& summary);

}  // namespace sageval::eval
