// `math`: the ground truth. Plain softmax(Q.K^T * scale).V in float64 (`math_fp32`: float32, for shapes where
// float64 is too slow), on any device, computed over blocks of query rows to bound memory. It returns its
// compute dtype, unrounded: rounding the reference to 16 bits would add error to every comparison.
#include <algorithm>
#include <limits>

#include "backends/backend_factories.h"
#include "backends/causal_mask.h"

namespace sageval::detail {
namespace {

class MathBackend final : public AttentionBackend {
 public:
  explicit MathBackend(at::ScalarType compute) : compute_(compute) {}

  std::string name() const override { return compute_ == at::kDouble ? "math" : "math_fp32"; }

  BackendCapabilities capabilities() const override {
    BackendCapabilities caps;
    caps.dtypes = {at::kHalf, at::kBFloat16, at::kFloat, at::kDouble};
    caps.cpu = true;
    caps.cuda = true;
    caps.lse = true;
    caps.description = compute_ == at::kDouble ? "ground truth in float64" : "ground truth in float32";
    return caps;
  }

 protected:
  AttentionOutput forward_hnd(const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in,
                              const HndOptions& options) const override {
    const bool causal = options.causal;
    const double sm_scale = options.sm_scale;
    const int64_t batch = q_in.size(0), hq = q_in.size(1), len_q = q_in.size(2), dim = q_in.size(3);
    const int64_t group = hq / k_in.size(1), len_k = k_in.size(2);
    at::Tensor q = q_in.to(compute_);
    at::Tensor k = expand_kv_heads(k_in.to(compute_), group);
    at::Tensor v = expand_kv_heads(v_in.to(compute_), group);
    at::Tensor out = at::empty({batch, hq, len_q, dim}, q.options());
    at::Tensor lse = at::empty({batch, hq, len_q}, q.options());
    // Keep each block's score matrix around 32M elements.
    const int64_t per_row = std::max<int64_t>(1, batch * hq * len_k);
    const int64_t rows = std::clamp<int64_t>((int64_t{1} << 25) / per_row, 1, len_q);
    for (int64_t r0 = 0; r0 < len_q; r0 += rows) {
      const int64_t r1 = std::min(len_q, r0 + rows);
      at::Tensor s = at::matmul(q.slice(2, r0, r1), k.transpose(-1, -2)) * sm_scale;
      if (causal)
        s.masked_fill_(causal_mask_block(r0, r1 - r0, 0, len_k, len_q, len_k, q.device()),
                       -std::numeric_limits<double>::infinity());
      at::Tensor row_lse = at::logsumexp(s, -1, /*keepdim=*/true);
      // A fully masked row has lse = -inf; its probabilities are defined as 0, not NaN.
      at::Tensor safe_lse = at::where(at::isinf(row_lse), at::zeros_like(row_lse), row_lse);
      at::Tensor p = at::exp(s - safe_lse);
      out.slice(2, r0, r1).copy_(at::matmul(p, v));
      lse.slice(2, r0, r1).copy_(row_lse.squeeze(-1));
    }
    AttentionOutput result{out, {}, {}};
    if (options.return_lse) result.lse = lse.to(at::kFloat);
    return result;
  }

 private:
  at::ScalarType compute_;
};

}  // namespace

std::unique_ptr<AttentionBackend> make_math_backend(at::ScalarType compute_dtype) {
  return std::make_unique<MathBackend>(compute_dtype);
}

}  // namespace sageval::detail
