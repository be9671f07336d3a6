// The CUDA quantizers' element quantizer on chosen inputs (see int8_rounding_selftest.h): the same inline functions
// quantize_int8.cu calls, one element per thread.
#include "sageval/kernels/cuda_check.h"
#include "sageval/kernels/int8_rounding_selftest.h"
#include "sageval/kernels/sage_int8_numerics.h"

namespace sageval::kernels {
namespace {

namespace nx = sageval::numerics;

__global__ void int8_quantizer_selftest_kernel(const float* x, const float* scale, int8_t* q, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float s = scale[i];
  q[i] = nx::division_free_quantization_ok(s) ? nx::quantize_int8_division_free(x[i], s, nx::correctly_rounded_reciprocal(s))
                                              : nx::quantize_int8(x[i], s);
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
