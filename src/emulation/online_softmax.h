// The key-tiled online softmax shared by the `fp16` and `sage_int8` emulations, in the order the CUDA kernels
// run it (FlashAttention-2): per tile of numerics::kKeyTile keys, m_new = max(m, rowmax(t)); p = exp2(t - m_new);
// P rounded to a 16-bit type; l = l * exp2(m - m_new) + rowsum(P); acc = acc * exp2(m - m_new) + P.V in float32.
#pragma once

#include <functional>

#include <ATen/ATen.h>

namespace sageval::detail {

struct OnlineSoftmaxResult {
  at::Tensor out;   // float32 [B, H, Nq, D] = acc / l, 0 for rows that saw no key
  at::Tensor lse2;  // float32 [B, H, Nq] = m + log2(l) (base-2 units of t), -inf for rows that saw no key
};

// `scores(k0, k1)` returns the base-2 scores t (float32 [B, H, Nq, k1 - k0]) of keys [k0, k1) for all queries;
// `v` is float32 [B, H, Nk, D] holding the values the kernel multiplies by (already rounded to 16 bits and with
// kv heads expanded). `p_type` is the 16-bit type P is rounded to.
OnlineSoftmaxResult online_softmax_attention(const std::function<at::Tensor(int64_t, int64_t)>& scores,
                                             const at::Tensor& v, int64_t len_q, bool causal,
                                             at::ScalarType p_type);

}  // namespace sageval::detail
