#include "support/plain_attention.h"

#include <algorithm>
#include <limits>

namespace sageval::testing {

at::Tensor plain_16bit_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                                 double sm_scale) {
  const auto dtype = q.scalar_type();
  const int64_t group = q.size(1) / k.size(1), len_q = q.size(2), len_k = k.size(2);
  auto round16 = [dtype](const at::Tensor& t) { return t.to(dtype).to(at::kFloat); };
  at::Tensor kf = k.to(at::kFloat).repeat_interleave(group, 1);
  at::Tensor vf = v.to(at::kFloat).repeat_interleave(group, 1);
  at::Tensor out = at::empty({q.size(0), q.size(1), len_q, q.size(3)}, q.options());
  // Blocks of query rows keep the score matrix near 64M elements (the 32K-token GPU cases would need 32 GB).
  const int64_t per_row = std::max<int64_t>(1, q.size(0) * q.size(1) * len_k);
  const int64_t rows = std::clamp<int64_t>((int64_t{1} << 26) / per_row, 1, len_q);
  for (int64_t r0 = 0; r0 < len_q; r0 += rows) {
    const int64_t r1 = std::min(len_q, r0 + rows);
    at::Tensor s = round16(at::matmul(q.slice(2, r0, r1).to(at::kFloat), kf.transpose(-1, -2)) * sm_scale);
    if (causal) {
      auto opts = at::TensorOptions().dtype(at::kLong).device(q.device());
      at::Tensor i = at::arange(r0, r1, opts).unsqueeze(1), j = at::arange(len_k, opts).unsqueeze(0);
      s = s.masked_fill(j > i + (len_k - len_q), -std::numeric_limits<float>::infinity());
    }
    at::Tensor p = round16(at::nan_to_num(at::softmax(s, -1), 0.0));  // rows with no visible key: 0
    out.slice(2, r0, r1).copy_(at::matmul(p, vf));
  }
  return out;
}

}  // namespace sageval::testing
