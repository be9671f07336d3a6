#include "emulation/online_softmax.h"

#include <algorithm>
#include <limits>

#include "backends/causal_mask.h"
#include "sageval/kernels/sage_int8_numerics.h"

namespace sageval::detail {

OnlineSoftmaxResult online_softmax_attention(const std::function<at::Tensor(int64_t, int64_t)>& scores,
                                             const at::Tensor& v, int64_t len_q, bool causal,
                                             at::ScalarType p_type) {
  const int64_t batch = v.size(0), heads = v.size(1), len_k = v.size(2), dim = v.size(3);
  const float inf = std::numeric_limits<float>::infinity();
  auto f32 = v.options().dtype(at::kFloat);
  at::Tensor m = at::full({batch, heads, len_q, 1}, -inf, f32);
  at::Tensor l = at::zeros({batch, heads, len_q, 1}, f32);
  at::Tensor acc = at::zeros({batch, heads, len_q, dim}, f32);
  // Every tile is visited, fully masked or not: the emulation favours plainness over speed.
  for (int64_t k0 = 0; k0 < len_k; k0 += numerics::kKeyTile) {
    const int64_t k1 = std::min(len_k, k0 + numerics::kKeyTile);
    at::Tensor t = scores(k0, k1);
    if (causal) t = t.masked_fill(causal_mask_block(0, len_q, k0, k1 - k0, len_q, len_k, t.device()), -inf);
    at::Tensor m_new = at::maximum(m, std::get<0>(t.max(-1, /*keepdim=*/true)));
    // Rows that have seen no key keep m = -inf: their rescale factor is 0, not exp2(-inf - -inf) = NaN.
    at::Tensor no_key = at::isinf(m_new);
    at::Tensor m_safe = at::where(no_key, at::zeros_like(m_new), m_new);
    at::Tensor alpha = at::where(no_key, at::zeros_like(m_new), at::exp2(m - m_safe));
    at::Tensor p = at::exp2(t - m_safe).to(p_type).to(at::kFloat);
    l = l * alpha + p.sum(-1, /*keepdim=*/true);
    acc = acc * alpha + at::matmul(p, v.slice(2, k0, k1));
    m = m_new;
  }
  at::Tensor seen = l > 0;
  OnlineSoftmaxResult result;
  result.out = at::where(seen, acc / at::where(seen, l, at::ones_like(l)), at::zeros_like(acc));
  result.lse2 = at::where(seen, m + at::log2(at::where(seen, l, at::ones_like(l))),
                          at::full_like(m, -inf)).squeeze(-1);
  return result;
}

}  // namespace sageval::detail
