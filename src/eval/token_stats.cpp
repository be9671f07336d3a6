// Definitions and formulas: see include/sageval/eval/token_stats.h (llama.cpp tools/perplexity/perplexity.cpp,
// `kl_divergence`, as summarised in shared/reference/validation-anchors.md 1.2).
#include "sageval/eval/token_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "sageval/metrics.h"
#include "sageval/record.h"

namespace sageval::eval {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string shape_str(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

void check_logits(const at::Tensor& t, const char* name) {
  if (!t.defined()) throw std::invalid_argument(fmt::format("{} is undefined", name));
  if (!at::isFloatingType(t.scalar_type()))
    throw std::invalid_argument(fmt::format("{} must be floating point, got {}", name, c10::toString(t.scalar_type())));
  if (t.numel() > 0 && at::isnan(t).any().item<bool>()) throw std::invalid_argument(fmt::format("{} contains NaN", name));
  if (t.numel() > 0 && at::isposinf(t).any().item<bool>())
    throw std::invalid_argument(fmt::format("{} contains +inf", name));
}

// Mean and standard error of the mean: (m, sqrt(sum((x - m)^2) / (n (n - 1)))); NaN error for n < 2.
struct MeanUnc {
  double mean = 0.0;
  double var_of_mean = kNaN;  // squared standard error
  double unc() const { return std::sqrt(var_of_mean); }
};

MeanUnc mean_and_uncertainty(const std::vector<double>& x) {
  const double n = static_cast<double>(x.size());
  MeanUnc r;
  double s = 0.0;
  for (double v : x) s += v;
  r.mean = s / n;
  if (x.size() >= 2) {
    double ss = 0.0;
    for (double v : x) ss += (v - r.mean) * (v - r.mean);
    r.var_of_mean = ss / (n * (n - 1.0));
  }
  return r;
}

// Covariance of the two sample means: sum((a - ma)(b - mb)) / (n (n - 1)).
double covariance_of_means(const std::vector<double>& a, double ma, const std::vector<double>& b, double mb) {
  const double n = static_cast<double>(a.size());
  if (a.size() < 2) return kNaN;
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += (a[i] - ma) * (b[i] - mb);
  return s / (n * (n - 1.0));
}

}  // namespace

void TokenComparison::add(const at::Tensor& base_logits, const at::Tensor& cand_logits, const at::Tensor& targets) {
  check_logits(base_logits, "base_logits");
  check_logits(cand_logits, "cand_logits");
  if (base_logits.dim() != 2)
    throw std::invalid_argument(fmt::format("base_logits must be [N, vocab], got {}", shape_str(base_logits)));
  if (cand_logits.sizes() != base_logits.sizes())
    throw std::invalid_argument(fmt::format("cand_logits shape {} differs from base_logits shape {}",
                                            shape_str(cand_logits), shape_str(base_logits)));
  if (!targets.defined() || targets.scalar_type() != at::kLong || targets.dim() != 1)
    throw std::invalid_argument("targets must be int64 [N]");
  const int64_t n = base_logits.size(0), vocab = base_logits.size(1);
  if (targets.size(0) != n)
    throw std::invalid_argument(fmt::format("targets has {} ids but logits have {} rows", targets.size(0), n));
  if (n == 0) throw std::invalid_argument("no tokens to score (N == 0)");
  if (vocab == 0) throw std::invalid_argument("logits have an empty vocabulary (vocab == 0)");
  const int64_t lo = targets.min().item<int64_t>(), hi = targets.max().item<int64_t>();
  if (lo < 0 || hi >= vocab)
    throw std::invalid_argument(fmt::format("target ids must be in [0, {}), got [{}, {}]", vocab, lo, hi));

  const at::Device dev = base_logits.device();
  at::Tensor cand = cand_logits.to(dev);
  at::Tensor tgt = targets.to(dev);
  // Rows in chunks so the float64 [rows, vocab] temporaries stay near 2^24 elements (128 MiB) each.
  const int64_t rows = std::max<int64_t>(1, (int64_t{1} << 24) / vocab);
  std::vector<at::Tensor> parts;
  for (int64_t r0 = 0; r0 < n; r0 += rows) {
    const int64_t r1 = std::min(n, r0 + rows);
    at::Tensor b = base_logits.slice(0, r0, r1);
    at::Tensor c = cand.slice(0, r0, r1);
    at::Tensor t = tgt.slice(0, r0, r1).unsqueeze(1);
    at::Tensor lp = at::log_softmax(b.to(at::kDouble), 1);
    at::Tensor lq = at::log_softmax(c.to(at::kDouble), 1);
    // p_i = 0 (masked entry) contributes 0, not 0 * (-inf - x) = NaN.
    at::Tensor p = lp.exp();
    at::Tensor kld = at::where(p > 0, p * (lp - lq), at::zeros_like(p)).sum(1);
    at::Tensor nll_b = -lp.gather(1, t).squeeze(1);
    at::Tensor nll_c = -lq.gather(1, t).squeeze(1);
    at::Tensor dp = at::exp(-nll_c) - at::exp(-nll_b);
    at::Tensor same = (b.argmax(1) == c.argmax(1)).to(at::kDouble);
    parts.push_back(at::stack({nll_b, nll_c, kld, dp, same}));
  }
  at::Tensor all = at::cat(parts, 1).cpu().contiguous();  // [5, n] float64, the one copy to the host
  const double* d = all.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i)
    add_token_values(d[i], d[n + i], d[2 * n + i], d[3 * n + i], d[4 * n + i] != 0.0);
}

void TokenComparison::merge(const TokenComparison& other) {
  nll_base_.insert(nll_base_.end(), other.nll_base_.begin(), other.nll_base_.end());
  nll_cand_.insert(nll_cand_.end(), other.nll_cand_.begin(), other.nll_cand_.end());
  kld_.insert(kld_.end(), other.kld_.begin(), other.kld_.end());
  delta_p_.insert(delta_p_.end(), other.delta_p_.begin(), other.delta_p_.end());
  n_same_top1_ += other.n_same_top1_;
}

void TokenComparison::add_token_values(double nll_base, double nll_cand, double kld, double delta_p, bool same_top1) {
  nll_base_.push_back(nll_base);
  nll_cand_.push_back(nll_cand);
  kld_.push_back(kld);
  delta_p_.push_back(delta_p);
  n_same_top1_ += same_top1 ? 1 : 0;
}

double percentile_sorted(const std::vector<double>& v, double fraction) {
  if (v.empty()) throw std::invalid_argument("percentile of an empty set");
  if (!(fraction > 0.0)) return v.front();
  if (fraction >= 1.0) return v.back();
  const double r = fraction * static_cast<double>(v.size() - 1);
  const size_t i = static_cast<size_t>(r);
  const double f = r - static_cast<double>(i);
  const size_t j = std::min(i + 1, v.size() - 1);
  return (1.0 - f) * v[i] + f * v[j];
}

TokenStatsSummary TokenComparison::summarize() const {
  if (kld_.empty()) throw std::invalid_argument("no tokens were added to the comparison");
  TokenStatsSummary s;
  s.n = size();
  const double n = static_cast<double>(s.n);

  const MeanUnc kl = mean_and_uncertainty(kld_);
  s.kld_mean = kl.mean;
  s.kld_mean_unc = kl.unc();
  std::vector<double> sorted = kld_;
  std::sort(sorted.begin(), sorted.end());
  s.kld_max = sorted.back();
  s.kld_p999 = percentile_sorted(sorted, 0.999);
  s.kld_p99 = percentile_sorted(sorted, 0.99);
  s.kld_p95 = percentile_sorted(sorted, 0.95);
  s.kld_p90 = percentile_sorted(sorted, 0.90);
  s.kld_median = percentile_sorted(sorted, 0.5);

  const MeanUnc dp = mean_and_uncertainty(delta_p_);
  s.dp_mean = dp.mean;
  s.dp_mean_unc = dp.unc();
  std::vector<double> dp2(delta_p_.size());
  for (size_t i = 0; i < dp2.size(); ++i) dp2[i] = delta_p_[i] * delta_p_[i];
  const MeanUnc msq = mean_and_uncertainty(dp2);
  s.dp_rms = std::sqrt(msq.mean);
  s.dp_rms_unc = s.dp_rms > 0 ? 0.5 / s.dp_rms * msq.unc() : (s.n >= 2 ? 0.0 : kNaN);

  s.same_top1 = static_cast<double>(n_same_top1_) / n;
  s.same_top1_unc = s.n >= 2 ? std::sqrt(s.same_top1 * (1.0 - s.same_top1) / (n - 1.0)) : kNaN;

  const MeanUnc nb = mean_and_uncertainty(nll_base_);
  const MeanUnc nc = mean_and_uncertainty(nll_cand_);
  s.nll_base_mean = nb.mean;
  s.nll_base_unc = nb.unc();
  s.nll_cand_mean = nc.mean;
  s.nll_cand_unc = nc.unc();
  s.nll_covariance = covariance_of_means(nll_cand_, nc.mean, nll_base_, nb.mean);
  s.nll_correlation = s.nll_covariance / std::sqrt(nc.var_of_mean * nb.var_of_mean);
  s.ppl_base = std::exp(nb.mean);
  s.ppl_base_unc = s.ppl_base * nb.unc();
  s.ppl_cand = std::exp(nc.mean);
  s.ppl_cand_unc = s.ppl_cand * nc.unc();

  std::vector<double> diff(nll_base_.size());
  for (size_t i = 0; i < diff.size(); ++i) diff[i] = nll_cand_[i] - nll_base_[i];
  s.nll_diff_mean = mean_and_uncertainty(diff).mean;
  // llama.cpp: log_ppl_ratio_unc = sqrt(u_Q^2 + u_base^2 - 2 cov); clamped at 0 against rounding.
  s.ln_ppl_ratio = nc.mean - nb.mean;
  s.ln_ppl_ratio_unc = std::sqrt(std::max(0.0, nc.var_of_mean + nb.var_of_mean - 2.0 * s.nll_covariance));
  if (s.n < 2) s.ln_ppl_ratio_unc = kNaN;
  s.ppl_ratio = std::exp(s.ln_ppl_ratio);
  s.ppl_ratio_unc = s.ppl_ratio * s.ln_ppl_ratio_unc;
  s.ppl_diff = s.ppl_cand - s.ppl_base;
  const double diff_var = s.ppl_cand_unc * s.ppl_cand_unc + s.ppl_base_unc * s.ppl_base_unc -
                          2.0 * s.ppl_cand * s.ppl_base * s.nll_covariance;
  s.ppl_diff_unc = s.n >= 2 ? std::sqrt(std::max(0.0, diff_var)) : kNaN;
  return s;
}

LogitStats compare_logits(const at::Tensor& a, const at::Tensor& b) {
  check_logits(a, "a");
  check_logits(b, "b");
  if (a.sizes() != b.sizes())
    throw std::invalid_argument(fmt::format("compare_logits: shapes differ: {} vs {}", shape_str(a), shape_str(b)));
  if (a.numel() == 0) throw std::invalid_argument("compare_logits: empty tensors");
  at::Tensor x = a.to(at::kCPU).to(at::kDouble).flatten();
  at::Tensor y = b.to(at::kCPU).to(at::kDouble).flatten();
  at::Tensor d = x - y;
  LogitStats s;
  s.max_abs = d.abs().max().item<double>();
  s.mse = (d * d).mean().item<double>();
  const double dot = (x * y).sum().item<double>();
  const double nx = (x * x).sum().item<double>();
  const double ny = (y * y).sum().item<double>();
  s.cosine = cosine_from_sums(dot, nx, ny);
  return s;
}

nlohmann::json to_json(const TokenStatsSummary& s) {
  nlohmann::json j = nlohmann::json::object();
  j["n"] = s.n;
  const std::pair<const char*, double> fields[] = {
      {"kld_mean", s.kld_mean},           {"kld_mean_unc", s.kld_mean_unc},
      {"kld_max", s.kld_max},             {"kld_p99_9", s.kld_p999},
      {"kld_p99", s.kld_p99},             {"kld_p95", s.kld_p95},
      {"kld_p90", s.kld_p90},             {"kld_median", s.kld_median},
      {"dp_mean", s.dp_mean},             {"dp_mean_unc", s.dp_mean_unc},
      {"dp_rms", s.dp_rms},               {"dp_rms_unc", s.dp_rms_unc},
      {"same_top1", s.same_top1},         {"same_top1_unc", s.same_top1_unc},
      {"nll_base_mean", s.nll_base_mean}, {"nll_base_unc", s.nll_base_unc},
      {"nll_cand_mean", s.nll_cand_mean}, {"nll_cand_unc", s.nll_cand_unc},
      {"nll_covariance", s.nll_covariance}, {"nll_correlation", s.nll_correlation},
      {"ppl_base", s.ppl_base},           {"ppl_base_unc", s.ppl_base_unc},
      {"ppl_cand", s.ppl_cand},           {"ppl_cand_unc", s.ppl_cand_unc},
      {"nll_diff_mean", s.nll_diff_mean}, {"ln_ppl_ratio", s.ln_ppl_ratio},
      {"ln_ppl_ratio_unc", s.ln_ppl_ratio_unc}, {"ppl_ratio", s.ppl_ratio},
      {"ppl_ratio_unc", s.ppl_ratio_unc}, {"ppl_diff", s.ppl_diff},
      {"ppl_diff_unc", s.ppl_diff_unc},
  };
  for (const auto& [key, value] : fields) j[key] = json_number(value);
  return j;
}

std::string format_summary(const TokenStatsSummary& s) {
  std::string out;
  auto line = [&out](const std::string& text) { out += text + "\n"; };
  line(fmt::format("tokens scored: {}", s.n));
  line("");
  line("====== Perplexity statistics ======");
  line(fmt::format("Mean PPL(Q)                   : {:10.6f} ± {:10.6f}", s.ppl_cand, s.ppl_cand_unc));
  line(fmt::format("Mean PPL(base)                : {:10.6f} ± {:10.6f}", s.ppl_base, s.ppl_base_unc));
  line(fmt::format("Cor(ln(PPL(Q)), ln(PPL(base))): {:6.2f}%", 100.0 * s.nll_correlation));
  line(fmt::format("Mean ln(PPL(Q)/PPL(base))     : {:10.6f} ± {:10.6f}", s.ln_ppl_ratio, s.ln_ppl_ratio_unc));
  line(fmt::format("Mean PPL(Q)/PPL(base)         : {:10.6f} ± {:10.6f}", s.ppl_ratio, s.ppl_ratio_unc));
  line(fmt::format("Mean PPL(Q)-PPL(base)         : {:10.6f} ± {:10.6f}", s.ppl_diff, s.ppl_diff_unc));
  line("");
  line("====== KL divergence statistics ======");
  line(fmt::format("Mean    KLD: {:10.6f} ± {:10.6f}", s.kld_mean, s.kld_mean_unc));
  line(fmt::format("Maximum KLD: {:10.6f}", s.kld_max));
  line(fmt::format("99.9%   KLD: {:10.6f}", s.kld_p999));
  line(fmt::format("99.0%   KLD: {:10.6f}", s.kld_p99));
  line(fmt::format("95.0%   KLD: {:10.6f}", s.kld_p95));
  line(fmt::format("90.0%   KLD: {:10.6f}", s.kld_p90));
  line(fmt::format("Median  KLD: {:10.6f}", s.kld_median));
  line("");
  line("====== Token probability statistics ======");
  line(fmt::format("Mean    Δp: {:6.3f} ± {:5.3f} %", 100.0 * s.dp_mean, 100.0 * s.dp_mean_unc));
  line(fmt::format("RMS Δp    : {:6.3f} ± {:5.3f} %", 100.0 * s.dp_rms, 100.0 * s.dp_rms_unc));
  line(fmt::format("Same top p: {:6.3f} ± {:5.3f} %", 100.0 * s.same_top1, 100.0 * s.same_top1_unc));
  return out;
}

}  // namespace sageval::eval
