// Self-tests of the Hopper building blocks of kernels/sm90_primitives.cuh, run by the GPU test suite: each
// launches one warpgroup on operands in device memory, so a test can compare the result with the CPU bit for bit.
// They throw std::runtime_error on a device other than compute capability 9.0 and on any CUDA error.
#pragma once

#include <cstdint>
#include <string>

#include <cuda_runtime.h>

namespace sageval::kernels {

// Empty when the self-tests can run here (a compute capability 9.0 device and sm_90a code in this build), else
// why not.
std::string sm90_selftests_unavailable();

// d[64 x 128] (int32, row-major) = a[64 x 32k] . b[128 x 32k]^T, both int8 row-major (K-major), computed by
// `k_steps` chained wgmma m64n128k32 .s32.s8.s8 products (the first with scale-d = 0, the rest accumulating).
void sm90_wgmma_s8_selftest(const int8_t* a, const int8_t* b, int32_t* d, int k_steps, cudaStream_t stream);

// d[64 x 128] (float32, row-major) = a[64 x 16k] . b[128 x 16k]^T, both fp16 row-major (K-major) given as raw
// pointers, by `k_steps` chained wgmma m64n128k16 .f32.f16.f16 products with A from registers.
void sm90_wgmma_f16_rs_selftest(const void* a, const void* b, float* d, int k_steps, cudaStream_t stream);

// out[64 x 32] (int8, row-major) = the box of src[rows x cols] (int8, row-major) starting at column x, row y,
// brought by one TMA 2-D load completing on an mbarrier; elements past the tensor come back as 0.
void sm90_tma_load_selftest(const int8_t* src, int rows, int cols, int x, int y, int8_t* out, cudaStream_t stream);

}  // namespace sageval::kernels
