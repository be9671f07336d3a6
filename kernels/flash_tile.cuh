// Per-warp pieces of the FlashAttention-2 inner loop shared by the FP16 and INT8 kernels. A warp owns kM row
// tiles of 16 query rows; in each, a lane holds two rows (g = lane/4 and g + 8) and, of a 16x64 score tile,
// columns 8*nb + 2*(lane%4) + {0,1} for nb = 0..7 (the m16n8 accumulator layout).
//  - TensorBytes / tensor_bytes: a call's tensors as byte pointers and byte strides (the 16-bit kernels' params).
//  - mask_tile: -inf for keys >= len_k and, causal, for key > row + (len_k - len_q).
//  - online_softmax_tile: base-2 online softmax, P rounded to the 16-bit type, row sums from the rounded P,
//    rescale of the output accumulator.
//  - pv_tile: O += P(16kM x 64) . V(64 x D), ldmatrix.trans from a swizzled V tile (each V fragment feeds kM
//    MMAs), m16n8k16, FP32 accumulate.
//  - store_output: O / l (times a power-of-two factor), rounded, 4-byte stores, and the LSE.
#pragma once

#include <cmath>

#include "sm80_primitives.cuh"

namespace sageval::kernels::sm80 {

constexpr int kKeyTileCols = 64;

// A call's tensors as the 16-bit kernels address them: byte pointers and strides in bytes (2-byte elements).
// Their parameter structs derive from it.
struct TensorBytes {
  const char* q = nullptr;
  const char* k = nullptr;
  const char* v = nullptr;
  char* out = nullptr;
  float* lse = nullptr;
  Strides4 qs, ks, vs, os;
};

inline TensorBytes tensor_bytes(const AttentionTensors& t) {
  const auto bytes = [](const Strides4& s) { return Strides4{s.batch * 2, s.head * 2, s.token * 2}; };
  TensorBytes b;
  b.q = static_cast<const char*>(t.q);
  b.k = static_cast<const char*>(t.k);
  b.v = static_cast<const char*>(t.v);
  b.out = static_cast<char*>(t.out);
  b.lse = t.lse;
  b.qs = bytes(t.q_strides);
  b.ks = bytes(t.k_strides);
  b.vs = bytes(t.v_strides);
  b.os = bytes(t.out_strides);
  return b;
}
constexpr int kScoreBlocks = kKeyTileCols / 8;

__device__ __forceinline__ void mask_tile(float (&s)[kScoreBlocks][4], int key0, int len_k, bool causal, int row0,
                                          int diag_offset, int lane) {
  const int r0 = row0 + (lane >> 2);
#pragma unroll
  for (int nb = 0; nb < kScoreBlocks; ++nb) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int key = key0 + nb * 8 + 2 * (lane & 3) + (e & 1);
      const int row = r0 + (e >> 1) * 8;
      const bool masked = key >= len_k || (causal && key > row + diag_offset);
      if (masked) s[nb][e] = -INFINITY;
    }
  }
}

// s: raw scores; t = s * scale is the score in base-2 units (the INT8 kernel passes t itself and scale = 1, for
// which fmaf(t, 1, -m) == t - m exactly). m, l: running max (in t units) and lane-partial row sum of rows g and
// g+8. o: output accumulator [D/8][4]. p: the rounded P packed as 16-bit pairs, p[nb][half].
template <bool kBf16, int kOBlocks>
__device__ __forceinline__ void online_softmax_tile(const float (&s)[kScoreBlocks][4], float scale, float (&m)[2],
                                                    float (&l)[2], float (&o)[kOBlocks][4],
                                                    uint32_t (&p)[kScoreBlocks][2]) {
  float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
  for (int nb = 0; nb < kScoreBlocks; ++nb) {
    mx[0] = fmaxf(mx[0], fmaxf(s[nb][0], s[nb][1]));
    mx[1] = fmaxf(mx[1], fmaxf(s[nb][2], s[nb][3]));
  }
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 1));
    mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 2));
    mx[i] = fmaxf(m[i], mx[i] * scale);  // scale > 0: max commutes with the (monotone) rounded multiply
  }
  float alpha[2], nbase[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    // A row with no visible key so far keeps m = -inf: subtract 0 instead (p = exp2(-inf) = 0) and rescale by 0.
    nbase[i] = mx[i] == -INFINITY ? 0.0f : -mx[i];
    alpha[i] = mx[i] == -INFINITY ? 0.0f : exp2f(m[i] - mx[i]);
    m[i] = mx[i];
  }
  float rs[2] = {0.0f, 0.0f};
#pragma unroll
  for (int nb = 0; nb < kScoreBlocks; ++nb) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const float p0 = exp2f(fmaf(s[nb][2 * i], scale, nbase[i]));
      const float p1 = exp2f(fmaf(s[nb][2 * i + 1], scale, nbase[i]));
      p[nb][i] = pack2<kBf16>(p0, p1);
      const float2 r = unpack2<kBf16>(p[nb][i]);
      rs[i] += r.x + r.y;
    }
  }
#pragma unroll
  for (int i = 0; i < 2; ++i) l[i] = l[i] * alpha[i] + rs[i];
#pragma unroll
  for (int db = 0; db < kOBlocks; ++db) {
    o[db][0] *= alpha[0];
    o[db][1] *= alpha[0];
    o[db][2] *= alpha[1];
    o[db][3] *= alpha[1];
  }
}

// O(16kM x D) += P(16kM x 64) . V(64 x D); V tile swizzled with rows of D*2 bytes.
template <bool kBf16, int D, int kM>
__device__ __forceinline__ void pv_tile(float (&o)[kM][D / 8][4], const uint32_t (&p)[kM][kScoreBlocks][2],
                                        uint32_t sv, int lane) {
  constexpr int kRowBytes = D * 2;
  // Lane's row (token) and byte offset of its 16-byte chunk at dims [0, 8); dims 16*dc move it by XOR 32*dc.
  const uint32_t lane_off = tile_offset<kRowBytes>((lane & 7) + ((lane >> 3) & 1) * 8, lane >> 4);
#pragma unroll
  for (int ks = 0; ks < kKeyTileCols / 16; ++ks) {
#pragma unroll
    for (int dc = 0; dc < D / 16; ++dc) {
      uint32_t b0, b1, b2, b3;
      ldmatrix_x4_trans(sv + (lane_off ^ (dc * 32)) + ks * 16 * kRowBytes, b0, b1, b2, b3);
#pragma unroll
      for (int mi = 0; mi < kM; ++mi) {
        const uint32_t a[4] = {p[mi][2 * ks][0], p[mi][2 * ks][1], p[mi][2 * ks + 1][0], p[mi][2 * ks + 1][1]};
        mma_16816<kBf16>(o[mi][2 * dc], a, b0, b1);
        mma_16816<kBf16>(o[mi][2 * dc + 1], a, b2, b3);
      }
    }
  }
}

// Writes rows row0 + g and row0 + g + 8 (those < len_q) of O / l * out_factor, and LSE (natural log) =
// ln2 * (m + log2 l) + lse_add[i] when lse is not null. Rows with l == 0 (no visible key) write 0 and -inf.
// kRowSumsPartial: l holds this lane's part of the row sums (summed over the row's 4 lanes here), or, false, the
// complete sums (the sm90 kernel's, from the tensor cores).
template <bool kBf16, int D, bool kRowSumsPartial = true>
__device__ __forceinline__ void store_output(const float (&o)[D / 8][4], const float (&m)[2], float (&l)[2],
                                             float out_factor, char* out, int64_t out_stride_bytes, float* lse,
                                             const float (&lse_add)[2], int row0, int len_q, int lane) {
  if constexpr (kRowSumsPartial) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      l[i] += __shfl_xor_sync(0xffffffffu, l[i], 1);
      l[i] += __shfl_xor_sync(0xffffffffu, l[i], 2);
    }
  }
  float inv[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) inv[i] = l[i] > 0.0f ? out_factor / l[i] : 0.0f;
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int row = row0 + (lane >> 2) + 8 * i;
    if (row < len_q) {
      char* dst = out + static_cast<int64_t>(row) * out_stride_bytes + (lane & 3) * 4;
#pragma unroll
      for (int db = 0; db < D / 8; ++db) {
        *reinterpret_cast<uint32_t*>(dst + db * 16) = pack2<kBf16>(o[db][2 * i] * inv[i], o[db][2 * i + 1] * inv[i]);
      }
      if (lse != nullptr && (lane & 3) == 0) {
        constexpr float kLn2 = 0.6931471805599453f;
        lse[row] = l[i] > 0.0f ? kLn2 * (m[i] + log2f(l[i])) + lse_add[i] : -INFINITY;
      }
    }
  }
}

}  // namespace sageval::kernels::sm80
