// Bridges from ATen tensors to the raw-pointer CUDA kernels of kernels/attention_kernels.h. Compiled only
// where the kernels are built and libtorch has CUDA (SAGEVAL_WITH_CUDA_KERNELS).
#pragma once

#include "sageval/attention.h"

namespace sageval::detail {

// Inputs: validated HND views (any token/head strides, head-dim stride 1) on one CUDA device.
AttentionOutput fp16_attention_cuda(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                                    double sm_scale, bool return_lse);
AttentionOutput sage_int8_attention_cuda(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                         bool causal, double sm_scale, bool return_lse);

}  // namespace sageval::detail
