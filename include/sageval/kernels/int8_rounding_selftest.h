// A self-test of the CUDA quantizers' INT8 rounding, run by the GPU test suite: the device's values of the element
// quantizer that kernels/quantize_int8.cu applies (sage_int8_numerics.h), so a test can compare them with the
// CPU's bit for bit on chosen inputs (every half-integer quotient and its neighbours), not only on random tensors.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace sageval::kernels {

// q[i] = the INT8 value the CUDA quantizers give x[i] in a block of scale scale[i], through their own chunk function
// (quantize_int8_division_free with the block's correctly rounded reciprocal where division_free_quantization_ok,
// else quantize_int8, then the packing).
// All pointers are device memory; n elements. Bytes: 9 * n; FLOPs: ~80 * n (a chunk of 8 per element; a test,
// not a kernel to time).
void int8_quantizer_selftest(const float* x, const float* scale, int8_t* q, int64_t n, cudaStream_t stream);

}  // namespace sageval::kernels
