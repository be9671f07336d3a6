// Bottom-right aligned causal mask (FlashAttention >= 2.1): query i of Nq sees key j of Nk iff
// j <= i + (Nk - Nq). Shared by every backend that builds a mask from tensors.
#pragma once

#include <ATen/ATen.h>

namespace sageval::detail {

// Bool [rows, cols] (true = masked) for query rows [row_begin, row_begin + rows) and keys [col_begin,
// col_begin + cols).
inline at::Tensor causal_mask_block(int64_t row_begin, int64_t rows, int64_t col_begin, int64_t cols, int64_t len_q,
                                    int64_t len_k, const at::Device& device) {
  auto opts = at::TensorOptions().dtype(at::kLong).device(device);
  at::Tensor i = at::arange(row_begin, row_begin + rows, opts).unsqueeze(1);
  at::Tensor j = at::arange(col_begin, col_begin + cols, opts).unsqueeze(0);
  return j > (i + (len_k - len_q));
}

// Repeats kv heads so that head h of the result is kv head h / group ([B, Hkv, N, D] -> [B, Hkv*group, N, D]).
inline at::Tensor expand_kv_heads(const at::Tensor& t, int64_t group) {
  return group == 1 ? t : t.repeat_interleave(group, 1);
}

}  // namespace sageval::detail
