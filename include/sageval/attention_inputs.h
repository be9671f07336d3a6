// Synthetic attention inputs: plain Gaussian and the hard cases that break 8-bit attention (SageAttention
// papers; our reference notes): a large bias shared by every token on K's channels, outlier channels in Q and
// K, and large V values (beyond FP16's range for bf16 inputs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "sageval/attention.h"

namespace sageval {

enum class InputFamily { Gaussian, KBias, Outliers4x, Outliers8x, LargeV };

// Stable names, used in test names, thresholds keys and records: gaussian, k_bias, outliers_4x, outliers_8x,
// large_v.
const char* to_string(InputFamily family);
const std::vector<InputFamily>& all_input_families();

struct AttentionShape {
  int64_t batch = 1;
  int64_t heads_q = 1;
  int64_t heads_kv = 1;
  int64_t len_q = 1;
  int64_t len_k = 1;
  int64_t head_dim = 64;
};

struct AttentionInputs {
  at::Tensor q, k, v;  // in the requested layout, memory order matching it (NHD tensors are NHD-contiguous)
};

// Deterministic for a given seed. Values are drawn in float32 and rounded to `dtype`.
//  gaussian:     q, k, v ~ N(0, 1)
//  k_bias:       k += b[channel], b ~ 10 * N(0, 1), shared by every token (10x the spread)
//  outliers_Nx:  4 channels of q and of k scaled by N
//  large_v:      v scaled by 1000 (fp16) or 1e5 (bf16, beyond FP16's 65504)
AttentionInputs make_attention_inputs(const AttentionShape& shape, InputFamily family, at::ScalarType dtype,
                                      Layout layout, uint64_t seed, const at::Device& device = at::kCPU);

// Seed from a case name (FNV-1a), so every case draws its own inputs and reruns are reproducible.
uint64_t seed_from_name(const std::string& name);

}  // namespace sageval
