// Error of a tensor against a reference, with the definitions of the SageAttention papers and of llama.cpp's
// backend tests. All sums in float64.
//   cosine  = sum(a*b) / sqrt(sum(a^2) * sum(b^2))   (1 when both are all zero, 0 when only one is)
//   rel_l1  = sum|a-b| / sum|b|                       (0 when both are all zero, inf when only b is)
//   rmse    = sqrt(mean((a-b)^2))
//   nmse    = sum((a-b)^2) / sum(b^2)
//   max_abs = max|a-b|
// The worst-case figures take the same definitions over each head ([b, h, :, :]) and each row ([b, h, n, :])
// of a [B, H, N, D] tensor and keep the worst: the papers show averages hiding bad heads and rows.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/ATen.h>

namespace sageval {

struct ErrorStats {
  double cosine = 0.0;
  double rel_l1 = 0.0;
  double rmse = 0.0;
  double nmse = 0.0;
  double max_abs = 0.0;
  int64_t nan_count = 0;  // in the tensor under test
  int64_t inf_count = 0;
  double worst_head_cosine = 0.0;
  double worst_head_rel_l1 = 0.0;
  double worst_row_cosine = 0.0;
  double worst_row_rel_l1 = 0.0;
};

// `actual` and `reference` have the same shape; for the per-head and per-row figures it must be 4-D
// [B, H, N, D] (other ranks get them over the whole tensor).
ErrorStats compare_tensors(const at::Tensor& actual, const at::Tensor& reference);

std::string format_error_stats(const ErrorStats& stats);

// The cosine above from its three sums (sum(a*b), sum(a^2), sum(b^2)), for callers that accumulate them over
// many tensors (logits over windows): the one scalar form of the definition, zero cases included.
double cosine_from_sums(double dot, double sum_sq_a, double sum_sq_b);

}  // namespace sageval
