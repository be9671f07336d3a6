// CPU implementations of the INT8 quantization steps of the `sage_int8` backend (steps 1-3 of
// sageval/kernels/sage_int8_numerics.h). They call the same inline functions as the CUDA quantizers, so the
// INT8 values and scales of both are identical.
#pragma once

#include <ATen/ATen.h>

#include "sageval/kernels/sage_int8_numerics.h"

namespace sageval {

struct QuantizedInt8 {
  at::Tensor values;  // int8, same shape as the input [B, H, N, D]
  at::Tensor scales;  // float32 [B, H, ceil(N / block_rows)]; value = values * scale
};

// Per-block symmetric INT8 quantization of a float32 [B, H, N, D] tensor along its token axis: one scale per
// `block_rows` consecutive tokens of each (batch, head), scale = max|x| / 127 (1.0 for an all-zero block),
// values rounded half away from zero. `pre_scale` multiplies each element (one float multiplication) first.
QuantizedInt8 quantize_per_block(const at::Tensor& x, int block_rows, float pre_scale = 1.0f);

// Mean of k over its token axis, accumulated in double and rounded to float: float32 [B, H, D].
at::Tensor token_mean(const at::Tensor& k);

// k - mean (float32), the smoothing of SageAttention: softmax(q.(k - mean)) == softmax(q.k) for every query.
at::Tensor smooth_k(const at::Tensor& k, const at::Tensor& mean);

// Q and K of one attention call, quantized as the `sage_int8` backend does it. q [B, Hq, Nq, D] and
// k [B, Hkv, Nk, D] in fp16/bf16/fp32 (HND).
struct SageInt8QK {
  QuantizedInt8 q;   // q * sm_scale * log2(e) (minus its block's mean with Q smoothing), per block of
                     // numerics::q_scale_rows(granularity) tokens
  QuantizedInt8 k;   // k - mean (when smoothing), per block of numerics::kKBlockRows tokens
  at::Tensor k_mean;  // float32 [B, Hkv, D]; zeros when smoothing is off
  // Q smoothing only (SageAttention2): the mean of each Q block over its rows, of q * sm_scale * log2(e),
  // float32 [B, Hq, Nq blocks, D]; undefined when off. The scores then need the mean's own scores added back.
  at::Tensor q_block_mean;
  // Q smoothing only: K as Q.K^T sees it before quantization (float32, smoothed when smoothing is on), for the
  // means' scores; undefined when off.
  at::Tensor k_float;
};
// `smooth_q`: SageAttention2's Q smoothing, in the CPU emulation only (no kernel has it yet); its means are per
// numerics::kQBlockRows rows whatever Q's scale granularity.
SageInt8QK quantize_sage_int8_qk(const at::Tensor& q, const at::Tensor& k, double sm_scale, bool smooth,
                                 bool smooth_q = false,
                                 numerics::QGranularity granularity = numerics::kDefaultQGranularity);

}  // namespace sageval
