// The fp16 and sage_int8 backends' CUDA paths: tensors through the bridge (sageval/kernel_bridge.h), then the
// raw-pointer kernels of sageval/kernels/attention_kernels.h on the current stream. Compiled only where the kernels
// are built and libtorch has CUDA (SAGEVAL_WITH_CUDA_KERNELS).
#pragma once

#include "sageval/kernels/sage_int8_numerics.h"
#include "sageval/attention.h"

namespace sageval::detail {

// Inputs: validated HND views (any token/head strides, head-dim stride 1) on one CUDA device.
AttentionOutput fp16_attention_cuda(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                    const HndOptions& options);
AttentionOutput sage_int8_attention_cuda(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                         const HndOptions& options, numerics::QGranularity granularity);

}  // namespace sageval::detail
