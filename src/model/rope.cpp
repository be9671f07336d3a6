// RoPE's inverse frequencies and attention scaling from a ModelConfig (config.h), apart from the config parser
// so that the parser builds without libtorch (fuzz/).
#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>

#include "sageval/model/config.h"

namespace sageval::model {

namespace {

// yarn's attention scaling of a context extension `scale` (transformers' get_mscale).
double yarn_mscale(double scale, double mscale = 1.0) { return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0; }

}  // namespace

double rope_attention_scaling(const ModelConfig& c) {
  const RopeScaling& s = c.rope_scaling;
  if (s.type != "yarn") return 1.0;
  if (s.attention_factor) return *s.attention_factor;
  // transformers tests `mscale and mscale_all_dim`: both present and non-zero.
  if (s.mscale.value_or(0.0) != 0.0 && s.mscale_all_dim.value_or(0.0) != 0.0)
    return yarn_mscale(s.factor, *s.mscale) / yarn_mscale(s.factor, *s.mscale_all_dim);
  return yarn_mscale(s.factor);
}

at::Tensor rope_inverse_frequencies(const ModelConfig& c) {
  // inv_freq[i] = theta^(-2i / d), in float32 as transformers computes it.
  at::Tensor exponent = at::arange(0, c.head_dim, 2, at::TensorOptions().dtype(at::kLong)).to(at::kFloat) /
                        static_cast<float>(c.head_dim);
  at::Tensor inv_freq = 1.0 / at::pow(static_cast<double>(c.rope_theta), exponent);
  const RopeScaling& s = c.rope_scaling;
  if (s.type == "linear") return inv_freq / s.factor;
  if (s.type == "llama3") {
    // Long wavelengths are slowed by `factor`, short ones kept, the band between interpolated smoothly.
    const double old_len = static_cast<double>(s.original_max_position_embeddings);
    const double low_wavelen = old_len / s.low_freq_factor, high_wavelen = old_len / s.high_freq_factor;
    at::Tensor wavelen = 2.0 * M_PI / inv_freq;
    at::Tensor scaled = at::where(wavelen > low_wavelen, inv_freq / s.factor, inv_freq);
    at::Tensor smooth = (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
    at::Tensor medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen);
    return at::where(medium, smoothed, scaled);
  }
  if (s.type == "yarn") {
    // Dimensions that turn fewer than beta_slow times over the original length are interpolated (divided by
    // factor), those that turn more than beta_fast times extrapolated (kept), a linear ramp between.
    const double dim = static_cast<double>(c.head_dim), base = c.rope_theta;
    const double orig = static_cast<double>(s.original_max_position_embeddings);
    auto correction_dim = [&](double rotations) {
      return dim * std::log(orig / (rotations * 2.0 * M_PI)) / (2.0 * std::log(base));
    };
    double low = correction_dim(s.beta_fast), high = correction_dim(s.beta_slow);
    if (s.truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, dim - 1);
    if (low == high) high += 0.001;  // no division by zero
    at::Tensor ramp = at::clamp((at::arange(c.head_dim / 2, at::TensorOptions().dtype(at::kFloat)) - low) / (high - low), 0, 1);
    at::Tensor extrapolation = 1 - ramp;
    at::Tensor interpolation = inv_freq / s.factor;
    return interpolation * (1 - extrapolation) + inv_freq * extrapolation;
  }
  return inv_freq;
}

}  // namespace sageval::model
