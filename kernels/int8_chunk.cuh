// The CUDA quantizers' INT8 values of one thread's chunk of 8 elements sharing a block scale, packed as the
// workspace holds them (kernels/quantize_int8.cu; the GPU self-test of int8_rounding_selftest.cu calls the same
// function, so the test checks the kernels' own code).
#pragma once

#include <cstdint>

#include "sageval/kernels/sage_int8_numerics.h"

namespace sageval::kernels {

__device__ __forceinline__ uint2 pack_int8x8(const int8_t (&q)[8]) {
  uint2 r;
  r.x = (uint32_t(uint8_t(q[0]))) | (uint32_t(uint8_t(q[1])) << 8) | (uint32_t(uint8_t(q[2])) << 16) |
        (uint32_t(uint8_t(q[3])) << 24);
  r.y = (uint32_t(uint8_t(q[4]))) | (uint32_t(uint8_t(q[5])) << 8) | (uint32_t(uint8_t(q[6])) << 16) |
        (uint32_t(uint8_t(q[7])) << 24);
  return r;
}

// The INT8 values of one thread's 8-element chunk: quantize_int8's values, without a division per element where
// the scale allows it (numerics::quantize_int8_division_free; the branch is uniform over the rows sharing it).
__device__ __forceinline__ uint2 quantize_chunk(const float (&x)[8], float scale, float inv, bool division_free) {
  int8_t q[8];
  if (division_free) {
#pragma unroll
    for (int i = 0; i < 8; ++i) q[i] = numerics::quantize_int8_division_free(x[i], scale, inv);
  } else {
#pragma unroll
    for (int i = 0; i < 8; ++i) q[i] = numerics::quantize_int8(x[i], scale);
  }
  return pack_int8x8(q);
}

}  // namespace sageval::kernels
