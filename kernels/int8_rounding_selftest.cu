// The CUDA quantizers' element quantizer on chosen inputs (see int8_rounding_selftest.h): quantize_int8.cu's chunk
// function (int8_chunk.cuh), one element per thread.
#include "sageval/kernels/cuda_check.h"
#include "sageval/kernels/int8_rounding_selftest.h"
#include "sageval/kernels/sage_int8_numerics.h"
#include "int8_chunk.cuh"

namespace sageval::kernels {
namespace {

namespace nx = sageval::numerics;

// Element i goes through the quantizers' chunk function as element i % 8 of a chunk (the others 0), with the
// block's reciprocal and range check as the quantizers compute them, and its byte is taken back out of that lane of
// the packed result: the division-free/division choice, the rounding and the packing (a byte in the wrong lane
// reads as 0) are the kernels' own.
__global__ void int8_quantizer_selftest_kernel(const float* x, const float* scale, int8_t* q, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float s = scale[i];
  const int lane = static_cast<int>(i % 8);
  float chunk[8];
#pragma unroll
  for (int j = 0; j < 8; ++j) chunk[j] = j == lane ? x[i] : 0.0f;
  const uint2 packed = quantize_chunk(chunk, s, nx::correctly_rounded_reciprocal(s), nx::division_free_quantization_ok(s));
  q[i] = static_cast<int8_t>(((lane < 4 ? packed.x : packed.y) >> (8 * (lane % 4))) & 0xffu);
}

}  // namespace

void int8_quantizer_selftest(const float* x, const float* scale, int8_t* q, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  constexpr int kThreads = 256;
  int8_quantizer_selftest_kernel<<<static_cast<unsigned>((n + kThreads - 1) / kThreads), kThreads, 0, stream>>>(x, scale,
                                                                                                               q, n);
  SAGEVAL_CUDA_CHECK_LAUNCH();
}

}  // namespace sageval::kernels
