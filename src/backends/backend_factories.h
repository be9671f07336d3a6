// Constructors of the built-in backends, one per file in src/backends/. Only the registry calls them.
#pragma once

#include <memory>

#include "sageval/kernels/sage_int8_numerics.h"
#include "sageval/attention.h"

namespace sageval::detail {

std::unique_ptr<AttentionBackend> make_math_backend(at::ScalarType compute_dtype);
std::unique_ptr<AttentionBackend> make_fp16_backend();
// sage_int8 with Q's scales per block or per warp (the registry: sage_int8_qblock, sage_int8_qwarp, and sage_int8 with
// numerics::kDefaultQGranularity).
std::unique_ptr<AttentionBackend> make_sage_int8_backend(const std::string& name, numerics::QGranularity granularity);
std::unique_ptr<AttentionBackend> make_sage_int8_qsmooth_backend();  // CPU emulation only
// Null where libtorch has no scaled_dot_product_attention.
std::unique_ptr<AttentionBackend> make_sdpa_backend();

// "py:MODULE:FUNCTION": imports MODULE through the embedded Python and wraps FUNCTION; throws
// std::invalid_argument naming what is wrong (a build without Python, a module that cannot be imported, no
// such function, missing or malformed capabilities).
std::unique_ptr<AttentionBackend> make_python_backend(const std::string& name);
// Empty when this build embeds Python for py: backends, else why not.
std::string python_backends_unavailable();

// True when this build can run the CUDA kernels on CUDA tensors (kernels compiled and libtorch has CUDA).
bool cuda_kernels_available();

}  // namespace sageval::detail
