// CPU quantizers of the `sage_int8` path. Plain loops over contiguous float32 data, calling the inline
// functions of include/sageval/kernels/sage_int8_numerics.h so that the CUDA quantizers produce the same bytes.
#include <algorithm>
#include <cmath>
#include <vector>
#include <stdexcept>

#include <fmt/format.h>

#include "sageval/kernels/sage_int8_numerics.h"
#include "sageval/quantize.h"

namespace sageval {
namespace {

void require_4d_cpu(const at::Tensor& x, const char* what) {
  if (!x.defined() || x.dim() != 4)
    throw std::invalid_argument(fmt::format("{}: expected a 4-D [B, H, N, D] tensor", what));
  if (!x.is_cpu()) throw std::invalid_argument(fmt::format("{}: expected a CPU tensor", what));
}

}  // namespace

QuantizedInt8 quantize_per_block(const at::Tensor& x_in, int block_rows, float pre_scale) {
  require_4d_cpu(x_in, "quantize_per_block");
  if (block_rows <= 0) throw std::invalid_argument("quantize_per_block: block_rows must be positive");
  at::Tensor x = x_in.to(at::kFloat).contiguous();
  const int64_t bh = x.size(0) * x.size(1), n = x.size(2), d = x.size(3);
  const int64_t blocks = (n + block_rows - 1) / block_rows;
  at::Tensor values = at::empty(x.sizes(), x.options().dtype(at::kChar));
  at::Tensor scales = at::empty({x.size(0), x.size(1), blocks}, x.options());
  const float* src = x.data_ptr<float>();
  int8_t* dst = values.data_ptr<int8_t>();
  float* sc = scales.data_ptr<float>();
  for (int64_t h = 0; h < bh; ++h) {
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t begin = (h * n + b * block_rows) * d;
      const int64_t end = (h * n + std::min<int64_t>(n, (b + 1) * block_rows)) * d;
      float amax = 0.0f;
      for (int64_t i = begin; i < end; ++i) amax = std::max(amax, std::fabs(src[i] * pre_scale));
      const float scale = numerics::int8_block_scale(amax);
      for (int64_t i = begin; i < end; ++i) dst[i] = numerics::quantize_int8(src[i] * pre_scale, scale);
      sc[h * blocks + b] = scale;
    }
  }
  return {values, scales};
}

at::Tensor token_mean(const at::Tensor& k_in) {
  require_4d_cpu(k_in, "token_mean");
  at::Tensor k = k_in.to(at::kFloat).contiguous();  // 16-bit -> float is exact
  const int64_t bh = k.size(0) * k.size(1), n = k.size(2), d = k.size(3);
  at::Tensor mean = at::empty({k.size(0), k.size(1), d}, k.options());
  const float* src = k.data_ptr<float>();
  float* dst = mean.data_ptr<float>();
  std::vector<double> sum(static_cast<size_t>(d));
  for (int64_t h = 0; h < bh; ++h) {
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t c = 0; c < d; ++c) sum[c] += static_cast<double>(src[(h * n + t) * d + c]);
    for (int64_t c = 0; c < d; ++c) dst[h * d + c] = static_cast<float>(sum[c] / static_cast<double>(n));
  }
  return mean;
}

at::Tensor smooth_k(const at::Tensor& k, const at::Tensor& mean) {
  return k.to(at::kFloat) - mean.unsqueeze(2);  // one float subtraction per element
}

SageInt8QK quantize_sage_int8_qk(const at::Tensor& q, const at::Tensor& k, double sm_scale, bool smooth,
                                 bool smooth_q, numerics::QGranularity granularity) {
  require_4d_cpu(q, "quantize_sage_int8_qk(q)");
  require_4d_cpu(k, "quantize_sage_int8_qk(k)");
  SageInt8QK out;
  const float scale_log2 = numerics::qk_scale_log2(static_cast<float>(sm_scale));
  if (smooth_q) {
    // The block means of the scaled Q (accumulated in double, rounded to float), subtracted before quantizing.
    at::Tensor scaled = q.to(at::kFloat) * scale_log2;
    const int64_t n = q.size(2), blocks = (n + numerics::kQBlockRows - 1) / numerics::kQBlockRows;
    std::vector<at::Tensor> means;
    for (int64_t b = 0; b < blocks; ++b)
      means.push_back(scaled.slice(2, b * numerics::kQBlockRows, std::min<int64_t>(n, (b + 1) * numerics::kQBlockRows))
                          .to(at::kDouble).mean(2).to(at::kFloat));
    out.q_block_mean = at::stack(means, 2);  // [B, Hq, blocks, D]
    at::Tensor row_mean = out.q_block_mean.repeat_interleave(numerics::kQBlockRows, 2).slice(2, 0, n);
    out.q = quantize_per_block(scaled - row_mean, numerics::q_scale_rows(granularity));
  } else {
    out.q = quantize_per_block(q, numerics::q_scale_rows(granularity), scale_log2);
  }
  at::Tensor k_float;
  if (smooth) {
    out.k_mean = token_mean(k);
    k_float = smooth_k(k, out.k_mean);
  } else {
    out.k_mean = at::zeros({k.size(0), k.size(1), k.size(3)}, k.options().dtype(at::kFloat));
    k_float = k.to(at::kFloat);
  }
  out.k = quantize_per_block(k_float, numerics::kKBlockRows);
  if (smooth_q) out.k_float = k_float;
  return out;
}

}  // namespace sageval
