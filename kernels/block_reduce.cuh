// Block-wide reduction of one float per thread, every thread getting the result: a warp shuffle tree, one value
// per warp in `red` (kThreads / 32 floats of shared memory), then the warps' values in order. Ends with a barrier,
// so `red` can be reused at once.
#pragma once

namespace sageval::kernels {

template <int kThreads, typename Op>
__device__ __forceinline__ float block_reduce(float v, float* red, Op op) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = v;
  __syncthreads();
  float r = red[0];
#pragma unroll
  for (int w = 1; w < kThreads / 32; ++w) r = op(r, red[w]);
  __syncthreads();
  return r;
}

struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
struct SumOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return a + b; }
};

}  // namespace sageval::kernels
