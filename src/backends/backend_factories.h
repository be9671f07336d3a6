// Constructors of the built-in backends, one per file in src/backends/. Only the registry calls them.
#pragma once

#include <memory>

#include "sageval/attention.h"

namespace sageval::detail {

std::unique_ptr<AttentionBackend> make_math_backend(at::ScalarType compute_dtype);
std::unique_ptr<AttentionBackend> make_fp16_backend();
std::unique_ptr<AttentionBackend> make_sage_int8_backend();
// Null where libtorch has no scaled_dot_product_attention.
std::unique_ptr<AttentionBackend> make_sdpa_backend();

// True when this build can run the CUDA kernels on CUDA tensors (kernels compiled and libtorch has CUDA).
bool cuda_kernels_available();

}  // namespace sageval::detail
