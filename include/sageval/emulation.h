// Exact CPU emulations of the `fp16` and `sage_int8` CUDA kernels: the same roundings, in the same order
// where it matters (see sageval/kernels/sage_int8_numerics.h). The backends use them for CPU tensors; the GPU
// suites compare the kernels against them.
#pragma once

#include <ATen/ATen.h>

#include "sageval/kernels/sage_int8_numerics.h"
#include "sageval/attention.h"

namespace sageval {

// q [B, Hq, Nq, D], k and v [B, Hkv, Nk, D], HND, CPU, all of one 16-bit dtype.

// FP16 reference: scores Q.K^T in float32, softmax in float32 (base 2, online over key tiles), P rounded to
// the input's 16-bit type before P.V, float32 accumulator, output rounded to the input dtype.
AttentionOutput emulate_fp16_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                                       double sm_scale, bool return_lse);

struct SageInt8EmulationOptions {
  bool smooth_k = true;  // off only to measure what smoothing buys
  // SageAttention2's Q smoothing: each Q block's mean over its rows is subtracted before INT8 quantization and
  // its scores (the mean times the smoothed K, in float32) added back. Emulation only: a candidate recipe
  // lever (backend `sage_int8_qsmooth`, CPU), not in the kernels.
  bool smooth_q = false;
  // Rows of Q per INT8 scale (sage_int8_numerics.h, QGranularity): per block of 128 or per warp of 16.
  numerics::QGranularity q_granularity = numerics::kDefaultQGranularity;
};

AttentionOutput emulate_sage_int8_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                            bool causal, double sm_scale, bool return_lse,
                                            const SageInt8EmulationOptions& emulation = {});

}  // namespace sageval
