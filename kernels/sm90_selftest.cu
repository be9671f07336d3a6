// One warpgroup runs chained INT8 wgmma products (kernels/sm90_primitives.cuh) on operands staged through shared
// memory in the no-swizzle core-matrix layout, and writes the accumulators back through their register layout:
// if the descriptors, the fragment layout or the accumulate flag were wrong, the product would not match the
// CPU's. FLOPs: 2 * 64 * 128 * 32 (INT8) or 2 * 64 * 128 * 16 (FP16) per k-step; bytes: negligible (a test,
// not a kernel to time).
#include <stdexcept>
#include <string>

#include <cuda.h>
#include <cuda_fp16.h>

#include "sageval/kernels/cuda_check.h"
#include "sageval/kernels/sm90_selftest.h"
#include "sm90_primitives.cuh"
#include "tensor_map.h"

namespace sageval::kernels {
namespace {

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
// Byte offset of element (row, k) of a K-major operand with 32 columns (two 16-byte core matrices per 8-row
// group): core matrix (row / 8, k / 16) at ((row / 8) * 2 + k / 16) * 128, then 16 bytes per row.
__device__ __forceinline__ int core_offset(int row, int k) { return ((row / 8) * 2 + k / 16) * 128 + (row % 8) * 16 + k % 16; }
// Adjacent core matrices: 128 bytes apart in K (the leading dimension), 256 bytes apart in rows (the stride).
constexpr uint32_t kLeadingBytes = 128, kStrideBytes = 256;
#endif

__global__ void __launch_bounds__(128) wgmma_s8_selftest_kernel(const int8_t* a, const int8_t* b, int32_t* d, int k_steps) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  __shared__ alignas(128) int8_t sa[64 * 32];
  __shared__ alignas(128) int8_t sb[128 * 32];
  const int k_total = 32 * k_steps;
  int32_t acc[64];
#pragma unroll
  for (int i = 0; i < 64; ++i) acc[i] = 0;
  for (int step = 0; step < k_steps; ++step) {
    for (int i = threadIdx.x; i < 64 * 32; i += 128) sa[core_offset(i / 32, i % 32)] = a[(i / 32) * k_total + step * 32 + i % 32];
    for (int i = threadIdx.x; i < 128 * 32; i += 128) sb[core_offset(i / 32, i % 32)] = b[(i / 32) * k_total + step * 32 + i % 32];
    sm90::fence_proxy_async_shared();  // ordinary stores, read next by the tensor cores
    __syncthreads();
    sm90::wgmma_fence();
    sm90::wgmma_m64n128k32_s8(acc, sm90::smem_descriptor(sa, kLeadingBytes, kStrideBytes),
                              sm90::smem_descriptor(sb, kLeadingBytes, kStrideBytes), step > 0);
    sm90::wgmma_commit();
    sm90::wgmma_wait<0>();
    __syncthreads();  // the next step overwrites the operands
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row = 16 * warp + lane / 4;
#pragma unroll
  for (int j = 0; j < 16; ++j) {
    const int col = 8 * j + 2 * (lane % 4);
    d[row * 128 + col] = acc[4 * j];
    d[row * 128 + col + 1] = acc[4 * j + 1];
    d[(row + 8) * 128 + col] = acc[4 * j + 2];
    d[(row + 8) * 128 + col + 1] = acc[4 * j + 3];
  }
#endif
}

// The FP16 product: A (64 x 16 per step) goes from global memory straight into the register fragment; B
// (128 x 16 halves per step, K-major) through shared memory in the same core-matrix geometry as the INT8 case
// (16 halves = 32 bytes per row).
__global__ void __launch_bounds__(128) wgmma_f16_rs_selftest_kernel(const __half* a, const __half* b, float* d, int k_steps) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  __shared__ alignas(128) __half sb[128 * 16];
  const int k_total = 16 * k_steps;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  float acc[64];
#pragma unroll
  for (int i = 0; i < 64; ++i) acc[i] = 0.0f;
  for (int step = 0; step < k_steps; ++step) {
    for (int i = threadIdx.x; i < 128 * 16; i += 128)
      sb[core_offset(i / 16, 2 * (i % 16)) / 2] = b[(i / 16) * k_total + step * 16 + i % 16];
    const __half* arow = a + (16 * warp + g) * k_total + step * 16;
    auto pack = [&](const __half* p) {
      const __half2 h = __halves2half2(p[0], p[1]);
      return *reinterpret_cast<const uint32_t*>(&h);
    };
    const uint32_t frag[4] = {pack(arow + 2 * t), pack(arow + 8 * k_total + 2 * t), pack(arow + 2 * t + 8),
                              pack(arow + 8 * k_total + 2 * t + 8)};
    sm90::fence_proxy_async_shared();
    __syncthreads();
    sm90::wgmma_fence();
    sm90::wgmma_m64n128k16_f16_rs(acc, frag, sm90::smem_descriptor(sb, kLeadingBytes, kStrideBytes), step > 0);
    sm90::wgmma_commit();
    sm90::wgmma_wait<0>();
    __syncthreads();
  }
  const int row = 16 * warp + g;
#pragma unroll
  for (int j = 0; j < 16; ++j) {
    const int col = 8 * j + 2 * t;
    d[row * 128 + col] = acc[4 * j];
    d[row * 128 + col + 1] = acc[4 * j + 1];
    d[(row + 8) * 128 + col] = acc[4 * j + 2];
    d[(row + 8) * 128 + col + 1] = acc[4 * j + 3];
  }
#endif
}

// The TMA load: one thread arms the mbarrier with the box's bytes and issues the copy, every thread waits on
// the barrier's first phase, then the box goes back to global memory as it landed in shared memory.
constexpr int kBoxRows = 64, kBoxCols = 32;

__global__ void __launch_bounds__(128) tma_load_selftest_kernel(const __grid_constant__ CUtensorMap map, int x, int y,
                                                                int8_t* out) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  __shared__ alignas(128) int8_t box[kBoxRows * kBoxCols];
  __shared__ alignas(8) uint64_t bar;
  if (threadIdx.x == 0) {
    sm90::mbarrier_init(&bar, 1);
    sm90::fence_mbarrier_init();
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    sm90::mbarrier_arrive_expect_tx(&bar, kBoxRows * kBoxCols);
    sm90::tma_load_2d(box, &map, &bar, x, y);
  }
  sm90::mbarrier_wait(&bar, 0);
  for (int i = threadIdx.x; i < kBoxRows * kBoxCols; i += 128) out[i] = box[i];
#endif
}

std::string why_not_sm90() {
  int device = 0, major = 0, minor = 0;
  SAGEVAL_CUDA_CHECK(cudaGetDevice(&device));
  SAGEVAL_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  SAGEVAL_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
  if (major != 9 || minor != 0)
    return "the sm_90a self-tests need a compute capability 9.0 device, this one is " + std::to_string(major) + "." +
           std::to_string(minor);
  // Without a 90a image in the build the device would run another architecture's empty kernel body.
  cudaFuncAttributes attributes{};
  SAGEVAL_CUDA_CHECK(cudaFuncGetAttributes(&attributes, wgmma_s8_selftest_kernel));
  if (attributes.binaryVersion != 90)
    return "this build has no sm_90a code (CMAKE_CUDA_ARCHITECTURES lacks 90a; the device runs sm_" +
           std::to_string(attributes.binaryVersion) + " code)";
  return {};
}

void require_sm90() {
  if (const std::string why = why_not_sm90(); !why.empty()) throw std::runtime_error(why);
}

}  // namespace

std::string sm90_selftests_unavailable() { return why_not_sm90(); }

void sm90_wgmma_s8_selftest(const int8_t* a, const int8_t* b, int32_t* d, int k_steps, cudaStream_t stream) {
  require_sm90();
  if (k_steps < 1) throw std::invalid_argument("sm90_wgmma_s8_selftest: k_steps must be at least 1");
  wgmma_s8_selftest_kernel<<<1, 128, 0, stream>>>(a, b, d, k_steps);
  SAGEVAL_CUDA_CHECK_LAUNCH();
}

void sm90_wgmma_f16_rs_selftest(const void* a, const void* b, float* d, int k_steps, cudaStream_t stream) {
  require_sm90();
  if (k_steps < 1) throw std::invalid_argument("sm90_wgmma_f16_rs_selftest: k_steps must be at least 1");
  wgmma_f16_rs_selftest_kernel<<<1, 128, 0, stream>>>(static_cast<const __half*>(a), static_cast<const __half*>(b), d,
                                                      k_steps);
  SAGEVAL_CUDA_CHECK_LAUNCH();
}

void sm90_tma_load_selftest(const int8_t* src, int rows, int cols, int x, int y, int8_t* out, cudaStream_t stream) {
  require_sm90();
  if (cols % 16 != 0 || reinterpret_cast<uintptr_t>(src) % 16 != 0)
    throw std::invalid_argument("sm90_tma_load_selftest: rows must be 16-byte aligned (cols a multiple of 16)");
  const CUtensorMap map = make_tensor_map("sm90_tma_load_selftest source", CU_TENSOR_MAP_DATA_TYPE_UINT8, src,
                                         {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)},
                                         {static_cast<uint64_t>(cols)}, {kBoxCols, kBoxRows}, CU_TENSOR_MAP_SWIZZLE_NONE);
  tma_load_selftest_kernel<<<1, 128, 0, stream>>>(map, x, y, out);
  SAGEVAL_CUDA_CHECK_LAUNCH();
}

}  // namespace sageval::kernels
