#include "support/plain_attention.h"

#include <limits>

namespace sageval::testing {

at::Tensor plain_16bit_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                                 double sm_scale) {
  const auto dtype = q.scalar_type();
  const int64_t group = q.size(1) / k.size(1), len_q = q.size(2), len_k = k.size(2);
  auto round16 = [dtype](const at::Tensor& t) { return t.to(dtype).to(at::kFloat); };
  at::Tensor kf = k.to(at::kFloat).repeat_interleave(group, 1);
  at::Tensor vf = v.to(at::kFloat).repeat_interleave(group, 1);
  at::Tensor s = round16(at::matmul(q.to(at::kFloat), kf.transpose(-1, -2)) * sm_scale);
  if (causal) {
    auto opts = at::TensorOptions().dtype(at::kLong).device(q.device());
    at::Tensor i = at::arange(len_q, opts).unsqueeze(1), j = at::arange(len_k, opts).unsqueeze(0);
    s = s.masked_fill(j > i + (len_k - len_q), -std::numeric_limits<float>::infinity());
  }
  at::Tensor p = at::softmax(s, -1);
  p = round16(at::nan_to_num(p, 0.0));  // rows with no visible key: 0
  return at::matmul(p, vf).to(dtype);
}

}  // namespace sageval::testing
