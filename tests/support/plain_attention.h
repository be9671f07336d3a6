// Attention in plain 16-bit arithmetic, each operation's result rounded to the input dtype (scores, softmax
// probabilities, output), as a framework computes it without a fused kernel. Its error against `math` is the
// yardstick for the `fp16` backend's error, as FlashAttention's tests measure theirs against PyTorch's.
#pragma once

#include <ATen/ATen.h>

namespace sageval::testing {

// HND inputs, any device; returns [B, Hq, Nq, D] in the input dtype. Causal: bottom-right aligned.
at::Tensor plain_16bit_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                                 double sm_scale);

}  // namespace sageval::testing
