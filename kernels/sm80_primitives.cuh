// Device primitives shared by the sm80-style attention kernels (valid on sm_80 and later, including sm_90a):
// cp.async with zero fill, ldmatrix (plain and transposed), mma.sync for f16/bf16 (m16n8k16, FP32 accumulate)
// and s8 (m16n8k32, INT32 accumulate), the XOR swizzle of 16-byte chunks in shared-memory tiles, and the tile
// loaders and host-side validation both attention kernels use. Inline PTX only; no libraries.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "sageval/kernels/attention_kernels.h"

namespace sageval::kernels::sm80 {

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte global->shared copy; when `valid` is false nothing is read and the 16 bytes are zero-filled.
__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src, bool valid) {
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t addr, uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t addr, uint32_t& r0, uint32_t& r1, uint32_t& r2,
                                                  uint32_t& r3) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(addr));
}

// D = A(16x16, row) * B(16x8, col) + D, 16-bit inputs, FP32 accumulators.
template <bool kBf16>
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if constexpr (kBf16) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// D = A(16x32 s8, row) * B(32x8 s8, col) + D, INT32 accumulators (exact).
__device__ __forceinline__ void mma_16832_s8(int (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats -> packed 16-bit pair (round to nearest even), low half = first.
template <bool kBf16>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
  if constexpr (kBf16) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
  } else {
    __half2 v = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&v);
  }
}
// Packed pair -> the two rounded floats (used for the row sum of the rounded P).
template <bool kBf16>
__device__ __forceinline__ float2 unpack2(uint32_t v) {
  if constexpr (kBf16) {
    return __bfloat1622float2(*reinterpret_cast<__nv_bfloat162*>(&v));
  } else {
    return __half22float2(*reinterpret_cast<__half2*>(&v));
  }
}

// Shared-memory tile of `kRows` rows of `kRowBytes` bytes, stored as 16-byte chunks with an XOR swizzle so
// that the 8 row addresses of one ldmatrix 8x8 matrix (8 consecutive rows, same logical chunk) fall in 8
// distinct 16-byte bank groups. Rows of >= 128 bytes: chunk ^ (row & 7). Rows of 64 bytes (two rows per
// 128-byte line): chunk ^ ((row >> 1) & 3).
template <int kRowBytes>
__device__ __forceinline__ int swizzle_key(int row) {
  static_assert(kRowBytes == 64 || kRowBytes % 128 == 0, "unsupported row size");
  if constexpr (kRowBytes == 64) {
    return (row >> 1) & 3;
  } else {
    return row & 7;
  }
}
template <int kRowBytes>
__device__ __forceinline__ uint32_t tile_offset(int row, int chunk) {
  return static_cast<uint32_t>(row * kRowBytes + ((chunk ^ swizzle_key<kRowBytes>(row)) << 4));
}
// The swizzle XORs the byte offset within a row with 16 * swizzle_key(row). So for a logical byte offset
// L + 16*c0 whose two parts share no bits (L < kRowBytes), tile_offset(row, c0 + L/16) == tile_offset(row, c0) ^ L:
// a lane computes its base offset once and steps through the row with an XOR by a compile-time constant.

// Asynchronously copies rows [row0, row0 + kRows) of a [token, dim] matrix (token stride `stride_bytes`) into a
// swizzled tile; rows at or beyond `n_valid` are zero-filled. All kThreads threads call it; thread `tid` copies
// chunk tid % kChunks of rows tid / kChunks + i * kRowStep, so its shared-memory offsets differ by constants.
template <int kRows, int kRowBytes, int kThreads>
__device__ __forceinline__ void load_tile_async(uint32_t tile, const char* base, int64_t stride_bytes, int row0,
                                                int n_valid, int tid) {
  constexpr int kChunks = kRowBytes / 16;
  constexpr int kRowStep = kThreads / kChunks;
  static_assert(kThreads % kChunks == 0 && kRows % kRowStep == 0 && kRowStep % 8 == 0, "bad tile shape");
  const int r = tid / kChunks;
  const int c = tid % kChunks;
  const char* src = base + static_cast<int64_t>(row0 + r) * stride_bytes + c * 16;
  const int64_t step = static_cast<int64_t>(kRowStep) * stride_bytes;
  const uint32_t dst = tile + tile_offset<kRowBytes>(r, c);
#pragma unroll
  for (int it = 0; it < kRows / kRowStep; ++it) {
    const bool valid = row0 + r + it * kRowStep < n_valid;
    cp_async_16(dst + it * kRowStep * kRowBytes, valid ? src + it * step : base, valid);
  }
}

// Host-side checks shared by both attention entry points.
// `kv_lengths`: whether the caller takes AttentionTensors::kv_lengths (the decode kernel); the others refuse it
// rather than read every key.
inline void validate_problem(const AttentionProblem& p, const AttentionTensors& t, const char* who,
                             bool kv_lengths = false) {
  const std::string name(who);
  if (t.kv_lengths != nullptr && !kv_lengths)
    throw std::invalid_argument(name + ": kv_lengths is taken by attention_fp16_decode only");
  if (p.head_dim != 64 && p.head_dim != 128) {
    throw std::runtime_error(name + ": unsupported head_dim " + std::to_string(p.head_dim) +
                             " (supported: 64, 128)");
  }
  if (p.batch < 0 || p.heads_q <= 0 || p.heads_kv <= 0 || p.len_q < 0 || p.len_k < 0) {
    throw std::runtime_error(name + ": invalid sizes");
  }
  if (p.heads_q % p.heads_kv != 0) {
    throw std::runtime_error(name + ": heads_q (" + std::to_string(p.heads_q) + ") is not a multiple of heads_kv (" +
                             std::to_string(p.heads_kv) + ")");
  }
  // q/k/v are read in 16-byte chunks (8 elements); out is written in pairs (4 bytes).
  auto aligned = [](const void* ptr, const Strides4& s, int elems) {
    return (reinterpret_cast<uintptr_t>(ptr) % (2 * elems) == 0) && s.batch % elems == 0 && s.head % elems == 0 &&
           s.token % elems == 0;
  };
  if (!aligned(t.q, t.q_strides, 8) || !aligned(t.k, t.k_strides, 8) || !aligned(t.v, t.v_strides, 8) ||
      !aligned(t.out, t.out_strides, 2)) {
    throw std::runtime_error(name +
                             ": q/k/v must be 16-byte aligned with batch/head/token strides that are multiples of 8 "
                             "elements, out 4-byte aligned with even strides (make the tensors contiguous)");
  }
}

}  // namespace sageval::kernels::sm80
