// CPU emulation of the `sage_int8` kernels, step by step as include/sageval/kernels/sage_int8_numerics.h lists them.
#include <cmath>

#include "backends/causal_mask.h"
#include "emulation/online_softmax.h"
#include "sageval/kernels/sage_int8_numerics.h"
#include "sageval/emulation.h"
#include "sageval/quantize.h"

namespace sageval {
namespace {

// V as the kernel multiplies it: FP16 values, and for bf16 inputs the power-of-two factor 2^e per
// (batch, kv head) that keeps them inside FP16's range. Returns the FP16 values (as float) and 2^e.
std::pair<at::Tensor, at::Tensor> v_as_fp16(const at::Tensor& v) {
  at::Tensor vf = v.to(at::kFloat);
  at::Tensor factor = at::ones({v.size(0), v.size(1), 1, 1}, vf.options());
  if (v.scalar_type() == at::kBFloat16) {
    at::Tensor amax = vf.abs().amax({2, 3}).contiguous();
    const float* a = amax.data_ptr<float>();
    float* f = factor.data_ptr<float>();
    for (int64_t i = 0; i < amax.numel(); ++i) f[i] = std::ldexp(1.0f, numerics::fp16_v_exponent(a[i]));
  }
  return {(vf / factor).to(at::kHalf).to(at::kFloat), factor};
}

}  // namespace

AttentionOutput emulate_sage_int8_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                            bool causal, double sm_scale, bool return_lse,
                                            const SageInt8EmulationOptions& emulation) {
  const int64_t group = q.size(1) / k.size(1);
  const int64_t len_q = q.size(2);
  SageInt8QK qk = quantize_sage_int8_qk(q, k, sm_scale, emulation.smooth_k, emulation.smooth_q,
                                        emulation.q_granularity);
  // Steps 4-5: integer scores (exact in float32) times the rounded product of the two block scales.
  at::Tensor q_int = qk.q.values.to(at::kFloat);
  at::Tensor k_int = detail::expand_kv_heads(qk.k.values.to(at::kFloat), group);
  at::Tensor q_row_scale =
      qk.q.scales.repeat_interleave(numerics::q_scale_rows(emulation.q_granularity), 2).slice(2, 0, len_q).unsqueeze(-1);
  at::Tensor k_block_scale = detail::expand_kv_heads(qk.k.scales, group);
  auto [v16, v_factor] = v_as_fp16(v);
  at::Tensor v_expanded = detail::expand_kv_heads(v16, group);
  static_assert(numerics::kKeyTile == numerics::kKBlockRows, "one K scale per key tile");
  // Q smoothing: the block means' scores against the smoothed K in float32, added to the dequantized scores.
  at::Tensor q_mean_rows, k_smoothed;
  if (emulation.smooth_q) {
    q_mean_rows = qk.q_block_mean.repeat_interleave(numerics::kQBlockRows, 2).slice(2, 0, len_q);
    k_smoothed = detail::expand_kv_heads(qk.k_float, group);
  }
  auto scores = [&](int64_t k0, int64_t k1) {
    at::Tensor s_int = at::matmul(q_int, k_int.slice(2, k0, k1).transpose(-1, -2));
    at::Tensor k_scale = k_block_scale.select(2, k0 / numerics::kKBlockRows).unsqueeze(-1).unsqueeze(-1);
    at::Tensor s = s_int * (q_row_scale * k_scale);
    if (emulation.smooth_q) s = s + at::matmul(q_mean_rows, k_smoothed.slice(2, k0, k1).transpose(-1, -2));
    return s;
  };
  detail::OnlineSoftmaxResult r = detail::online_softmax_attention(scores, v_expanded, len_q, causal, at::kHalf);
  at::Tensor out = r.out * detail::expand_kv_heads(v_factor, group);
  AttentionOutput result{out.to(q.scalar_type()), {}};
  if (return_lse) {
    // Step 7: undo the smoothing shift sm_scale * (q . mean) of every score of a row.
    at::Tensor mean = detail::expand_kv_heads(qk.k_mean.unsqueeze(-1), group);  // [B, Hq, D, 1]
    at::Tensor shift = at::matmul(q.to(at::kFloat), mean).squeeze(-1) * static_cast<float>(sm_scale);
    result.lse = r.lse2 * numerics::kLn2 + shift;
  }
  return result;
}

}  // namespace sageval
