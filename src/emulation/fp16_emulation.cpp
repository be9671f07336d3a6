// CPU emulation of the `fp16` kernel. Products of two 16-bit values are exact in float32, so the float32
// matrix product differs from the tensor cores' only in summation order.
#include "backends/causal_mask.h"
#include "emulation/online_softmax.h"
#include "sageval/kernels/sage_int8_numerics.h"
#include "sageval/emulation.h"

namespace sageval {

AttentionOutput emulate_fp16_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                                       double sm_scale, bool return_lse) {
  const int64_t group = q.size(1) / k.size(1);
  const float scale_log2 = numerics::qk_scale_log2(static_cast<float>(sm_scale));
  at::Tensor qf = q.to(at::kFloat);
  at::Tensor kf = detail::expand_kv_heads(k.to(at::kFloat), group);
  at::Tensor vf = detail::expand_kv_heads(v.to(at::kFloat), group);
  auto scores = [&](int64_t k0, int64_t k1) {
    return at::matmul(qf, kf.slice(2, k0, k1).transpose(-1, -2)) * scale_log2;
  };
  detail::OnlineSoftmaxResult r = detail::online_softmax_attention(scores, vf, q.size(2), causal, q.scalar_type());
  AttentionOutput result{r.out.to(q.scalar_type()), {}};
  if (return_lse) result.lse = r.lse2 * numerics::kLn2;
  return result;
}

}  // namespace sageval
