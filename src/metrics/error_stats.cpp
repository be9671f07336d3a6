#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "sageval/metrics.h"

namespace sageval {
namespace {

// Cosine and relative L1 along the trailing dims that `reduce` names, with the conventions for zero vectors.
std::pair<at::Tensor, at::Tensor> cosine_and_rel_l1(const at::Tensor& a, const at::Tensor& b,
                                                    at::IntArrayRef reduce) {
  at::Tensor dot = (a * b).sum(reduce);
  at::Tensor na = (a * a).sum(reduce);
  at::Tensor nb = (b * b).sum(reduce);
  at::Tensor both_zero = (na == 0) & (nb == 0);
  at::Tensor cosine = at::where(both_zero, at::ones_like(dot), dot / (na * nb).sqrt());
  cosine = at::where((na == 0) ^ (nb == 0), at::zeros_like(dot), cosine);
  at::Tensor diff = (a - b).abs().sum(reduce);
  at::Tensor ref = b.abs().sum(reduce);
  at::Tensor rel = at::where(ref == 0, at::where(diff == 0, at::zeros_like(diff),
                                                 at::full_like(diff, std::numeric_limits<double>::infinity())),
                             diff / ref);
  return {cosine, rel};
}

// NaN-propagating worst case: min of cosine, max of relative L1.
double worst_min(const at::Tensor& t) { return at::isnan(t).any().item<bool>() ? NAN : t.min().item<double>(); }
double worst_max(const at::Tensor& t) { return at::isnan(t).any().item<bool>() ? NAN : t.max().item<double>(); }

}  // namespace

ErrorStats compare_tensors(const at::Tensor& actual, const at::Tensor& reference) {
  TORCH_CHECK(actual.sizes() == reference.sizes(), "compare_tensors: shapes differ: ", actual.sizes(), " vs ",
              reference.sizes());
  at::Tensor a = actual.to(at::kCPU).to(at::kDouble);
  at::Tensor b = reference.to(at::kCPU).to(at::kDouble);
  ErrorStats s;
  s.nan_count = at::isnan(a).sum().item<int64_t>();
  s.inf_count = at::isinf(a).sum().item<int64_t>();
  const int64_t n = a.numel();
  at::Tensor diff = a - b;
  auto [cos_all, rel_all] = cosine_and_rel_l1(a.flatten(), b.flatten(), {0});
  s.cosine = cos_all.item<double>();
  s.rel_l1 = rel_all.item<double>();
  s.rmse = n ? std::sqrt((diff * diff).sum().item<double>() / static_cast<double>(n)) : 0.0;
  const double ref_energy = (b * b).sum().item<double>();
  const double err_energy = (diff * diff).sum().item<double>();
  s.nmse = ref_energy > 0 ? err_energy / ref_energy : (err_energy == 0 ? 0.0 : std::numeric_limits<double>::infinity());
  s.max_abs = n ? worst_max(diff.abs()) : 0.0;
  if (a.dim() == 4) {
    auto [cos_h, rel_h] = cosine_and_rel_l1(a, b, {2, 3});
    auto [cos_r, rel_r] = cosine_and_rel_l1(a, b, {3});
    s.worst_head_cosine = worst_min(cos_h);
    s.worst_head_rel_l1 = worst_max(rel_h);
    s.worst_row_cosine = worst_min(cos_r);
    s.worst_row_rel_l1 = worst_max(rel_r);
  } else {
    s.worst_head_cosine = s.worst_row_cosine = s.cosine;
    s.worst_head_rel_l1 = s.worst_row_rel_l1 = s.rel_l1;
  }
  return s;
}

std::string format_error_stats(const ErrorStats& s) {
  return fmt::format(
      "cos={:.6f} relL1={:.5f} rmse={:.3e} nmse={:.3e} maxabs={:.3e} nan={} inf={} worst_head(cos={:.6f} "
      "relL1={:.5f}) worst_row(cos={:.6f} relL1={:.5f})",
      s.cosine, s.rel_l1, s.rmse, s.nmse, s.max_abs, s.nan_count, s.inf_count, s.worst_head_cosine,
      s.worst_head_rel_l1, s.worst_row_cosine, s.worst_row_rel_l1);
}

double cosine_from_sums(double dot, double sum_sq_a, double sum_sq_b) {
  if (sum_sq_a == 0.0 && sum_sq_b == 0.0) return 1.0;
  if (sum_sq_a == 0.0 || sum_sq_b == 0.0) return 0.0;
  return dot / std::sqrt(sum_sq_a * sum_sq_b);
}

}  // namespace sageval
