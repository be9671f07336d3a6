#include "sageval/attention_inputs.h"

#include <stdexcept>

namespace sageval {

const char* to_string(InputFamily family) {
  switch (family) {
    case InputFamily::Gaussian: return "gaussian";
    case InputFamily::KBias: return "k_bias";
    case InputFamily::Outliers4x: return "outliers_4x";
    case InputFamily::Outliers8x: return "outliers_8x";
    case InputFamily::LargeV: return "large_v";
  }
  throw std::logic_error("unknown InputFamily");
}

const std::vector<InputFamily>& all_input_families() {
  static const std::vector<InputFamily> all = {InputFamily::Gaussian, InputFamily::KBias, InputFamily::Outliers4x,
                                               InputFamily::Outliers8x, InputFamily::LargeV};
  return all;
}

uint64_t seed_from_name(const std::string& name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

AttentionInputs make_attention_inputs(const AttentionShape& s, InputFamily family, at::ScalarType dtype,
                                      Layout layout, uint64_t seed, const at::Device& device) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  auto f32 = at::TensorOptions().dtype(at::kFloat);
  at::Tensor q = at::randn({s.batch, s.heads_q, s.len_q, s.head_dim}, gen, f32);
  at::Tensor k = at::randn({s.batch, s.heads_kv, s.len_k, s.head_dim}, gen, f32);
  at::Tensor v = at::randn({s.batch, s.heads_kv, s.len_k, s.head_dim}, gen, f32);
  switch (family) {
    case InputFamily::Gaussian: break;
    case InputFamily::KBias: k = k + 10.0f * at::randn({1, s.heads_kv, 1, s.head_dim}, gen, f32); break;
    case InputFamily::Outliers4x:
    case InputFamily::Outliers8x: {
      const float factor = family == InputFamily::Outliers4x ? 4.0f : 8.0f;
      at::Tensor channels = at::randperm(s.head_dim, gen, at::TensorOptions().dtype(at::kLong)).slice(0, 0, 4);
      at::Tensor scale = at::ones({s.head_dim}, f32).index_fill_(0, channels, factor);
      q = q * scale;
      k = k * scale;
      break;
    }
    case InputFamily::LargeV: v = v * (dtype == at::kBFloat16 ? 1e5f : 1000.0f); break;
  }
  auto finish = [&](const at::Tensor& t) {
    at::Tensor r = t.to(dtype);
    if (layout == Layout::NHD) r = r.transpose(1, 2).contiguous();
    return r.to(device);
  };
  return {finish(q), finish(k), finish(v)};
}

}  // namespace sageval
