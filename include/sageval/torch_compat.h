// The only place that looks at the libtorch version. sageval builds against Debian's libtorch 1.13 (CPU, CI)
// and pip torch 2.x (CUDA, GPU machines); everything that differs between them is decided here.
#pragma once

#include <torch/version.h>

// at::scaled_dot_product_attention with an explicit `scale` argument appeared in 2.1.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#define SAGEVAL_TORCH_HAS_SDPA 1
#else
#define SAGEVAL_TORCH_HAS_SDPA 0
#endif

// The `enable_gqa` argument of scaled_dot_product_attention appeared in 2.5.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5)
#define SAGEVAL_TORCH_SDPA_HAS_GQA 1
#else
#define SAGEVAL_TORCH_SDPA_HAS_GQA 0
#endif

// at::Context::setSDPUseCuDNN / userEnabledCuDNNSDP (the cuDNN backend of scaled_dot_product_attention)
// appeared in 2.3. The flash / mem-efficient / math switches are older than SDPA's `scale` argument.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define SAGEVAL_TORCH_HAS_CUDNN_SDPA 1
#else
#define SAGEVAL_TORCH_HAS_CUDNN_SDPA 0
#endif

#define SAGEVAL_TORCH_VERSION_STRING TORCH_VERSION
