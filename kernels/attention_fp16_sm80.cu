// FlashAttention-2-style forward for FP16/BF16 inputs with mma.sync (sm_80 instruction set; runs on sm_89/sm_90a).
//
// Algorithm. A CTA of 8 warps owns 128 query rows of one (batch, head); warp w owns rows 16w..16w+15. Q (128 x D)
// is copied to shared memory once. K and V are streamed in 64-key tiles through two shared-memory buffers each
// (cp.async, double buffered: the copy of tile j+1 overlaps the math of tile j). Per tile and warp:
//   S(16x64) = Q K^T          ldmatrix (A from the swizzled Q tile, B from the K tile), m16n8k16, FP32 accumulate
//   t = S * (sm_scale*log2 e) masked with -inf (tail tile past len_k; causal, bottom-right aligned)
//   online softmax in base 2: m' = max(m, rowmax t), P = exp2(t - m') ROUNDED TO THE INPUT 16-bit TYPE,
//   l = l*exp2(m-m') + rowsum(rounded P), O = O*exp2(m-m') + P.V (ldmatrix.trans of V, m16n8k16, FP32)
// Epilogue: O / l rounded to the input type (4-byte stores), LSE = ln2*(m + log2 l). Key tiles beyond the last
// one any row of the CTA can see (causal) are never loaded; a warp skips the math of a tile none of its rows sees.
// Shared-memory tiles use an XOR swizzle of 16-byte chunks, so ldmatrix and cp.async are bank-conflict free.
//
// Rounding steps: Q.K^T products exact in FP32 accumulation order of the tensor core; one FP32 multiply by the
// scale; exp2f; P rounded to fp16/bf16; FP32 accumulation of P.V; one FP32 rescale per tile; O/l; final rounding.
//
// Counts per (batch, head): FLOPs = 4 * Nq * Nk * D (about half when causal and Nq == Nk); minimum bytes =
// 2 * (2 * Nq * D + 2 * Nk * D) (+ 4 * Nq for LSE). K/V are re-read from L2 once per 128-row query block.
// Shared memory: (128 + 4 * 64) * D * 2 bytes = 48 KiB (D=64) or 96 KiB (D=128): two CTAs per SM.
#include <cuda_runtime.h>

#include <cmath>

#include "sageval/kernels/attention_kernels.h"
#include "sageval/kernels/cuda_check.h"
#include "flash_tile.cuh"
#include "kernel_tuning.h"
#include "sageval/kernels/sage_int8_numerics.h"
#include "sm80_primitives.cuh"

namespace sageval::kernels {
namespace {

using namespace sm80;

constexpr int kRowsPerCta = 128;

struct Fp16Params : TensorBytes {
  int heads_q, group, len_q, len_k;
  float scale_log2;
};

template <int D>
constexpr int fp16_smem_bytes() {
  return (kRowsPerCta + 4 * kKeyTileCols) * D * 2;
}

// kM: 16-row tiles per warp (warps = 8 / kM). kQInRegs: keep the warp's Q fragments in registers for the whole
// loop (only kM = 1, D = 64) or re-read them from shared memory each tile.
template <int D, bool kBf16, bool kCausal, int kM, bool kQInRegs>
__global__ void __launch_bounds__(256 / kM, 2) attention_fp16_kernel(const Fp16Params p) {
  constexpr int kThreads = 256 / kM;
  constexpr int kRowBytes = D * 2;
  constexpr int kTileBytes = kKeyTileCols * kRowBytes;
  constexpr int kKSteps = D / 16;
  static_assert(!kQInRegs || kM == 1, "Q in registers only with one row tile per warp");
  extern __shared__ __align__(1024) char smem[];
  const uint32_t sq = smem_u32(smem);
  const uint32_t sk = sq + kRowsPerCta * kRowBytes;
  const uint32_t sv = sk + 2 * kTileBytes;

  const int tid = threadIdx.x;
  const int warp = tid / 32;
  const int lane = tid % 32;
  const int qblock = gridDim.x - 1 - blockIdx.x;  // heaviest (causal) blocks first
  const int h = blockIdx.y;
  const int b = blockIdx.z;
  const int hk = h / p.group;
  const int m0 = qblock * kRowsPerCta;
  const int diag = p.len_k - p.len_q;

  const char* qg = p.q + b * p.qs.batch + h * p.qs.head;
  const char* kg = p.k + b * p.ks.batch + hk * p.ks.head;
  const char* vg = p.v + b * p.vs.batch + hk * p.vs.head;

  int n_keys = p.len_k;
  if (kCausal) n_keys = min(n_keys, m0 + kRowsPerCta + diag);
  const int n_tiles = n_keys > 0 ? (n_keys + kKeyTileCols - 1) / kKeyTileCols : 0;

  load_tile_async<kRowsPerCta, kRowBytes, kThreads>(sq, qg, p.qs.token, m0, p.len_q, tid);
  if (n_tiles > 0) load_tile_async<kKeyTileCols, kRowBytes, kThreads>(sk, kg, p.ks.token, 0, p.len_k, tid);
  cp_async_commit();
  if (n_tiles > 0) load_tile_async<kKeyTileCols, kRowBytes, kThreads>(sv, vg, p.vs.token, 0, p.len_k, tid);
  cp_async_commit();

  const int wrow0 = m0 + warp * 16 * kM;
  // Byte offsets of the lane's first chunk; column steps are XORs (see tile_offset).
  const uint32_t a_off = tile_offset<kRowBytes>(warp * 16 * kM + (lane & 7) + ((lane >> 3) & 1) * 8, lane >> 4);
  const uint32_t b_off = tile_offset<kRowBytes>(lane & 7, lane >> 3);

  uint32_t qf[kQInRegs ? kKSteps : 1][4];
  float o[kM][D / 8][4];
#pragma unroll
  for (int mi = 0; mi < kM; ++mi)
#pragma unroll
    for (int i = 0; i < D / 8; ++i) o[mi][i][0] = o[mi][i][1] = o[mi][i][2] = o[mi][i][3] = 0.0f;
  float m[kM][2], l[kM][2];
#pragma unroll
  for (int mi = 0; mi < kM; ++mi) {
    m[mi][0] = m[mi][1] = -INFINITY;
    l[mi][0] = l[mi][1] = 0.0f;
  }

  for (int j = 0; j < n_tiles; ++j) {
    cp_async_wait<1>();
    __syncthreads();  // K_j (and Q) visible; every warp is done with tile j-1
    if (j + 1 < n_tiles) {
      load_tile_async<kKeyTileCols, kRowBytes, kThreads>(sk + ((j + 1) & 1) * kTileBytes, kg, p.ks.token,
                                                         (j + 1) * kKeyTileCols, p.len_k, tid);
    }
    cp_async_commit();
    if constexpr (kQInRegs) {
      if (j == 0) {
#pragma unroll
        for (int ks = 0; ks < kKSteps; ++ks)
          ldmatrix_x4(sq + (a_off ^ (ks * 32)), qf[ks][0], qf[ks][1], qf[ks][2], qf[ks][3]);
      }
    }
    const int key0 = j * kKeyTileCols;
    const bool active = !kCausal || key0 <= wrow0 + 16 * kM - 1 + diag;
    uint32_t pp[kM][kScoreBlocks][2];
    if (active) {
      float s[kM][kScoreBlocks][4];
#pragma unroll
      for (int mi = 0; mi < kM; ++mi)
#pragma unroll
        for (int nb = 0; nb < kScoreBlocks; ++nb) s[mi][nb][0] = s[mi][nb][1] = s[mi][nb][2] = s[mi][nb][3] = 0.0f;
      const uint32_t skj = sk + (j & 1) * kTileBytes;
#pragma unroll
      for (int kk = 0; kk < kKSteps / 2; ++kk) {
        uint32_t a0[kM][4], a1[kM][4];
#pragma unroll
        for (int mi = 0; mi < kM; ++mi) {
          if constexpr (kQInRegs) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              a0[mi][e] = qf[2 * kk][e];
              a1[mi][e] = qf[2 * kk + 1][e];
            }
          } else {
            const uint32_t qa = sq + mi * 16 * kRowBytes;
            ldmatrix_x4(qa + (a_off ^ (kk * 64)), a0[mi][0], a0[mi][1], a0[mi][2], a0[mi][3]);
            ldmatrix_x4(qa + (a_off ^ (kk * 64 + 32)), a1[mi][0], a1[mi][1], a1[mi][2], a1[mi][3]);
          }
        }
#pragma unroll
        for (int nb = 0; nb < kScoreBlocks; ++nb) {
          uint32_t b0, b1, b2, b3;
          ldmatrix_x4(skj + (b_off ^ (kk * 64)) + nb * 8 * kRowBytes, b0, b1, b2, b3);
#pragma unroll
          for (int mi = 0; mi < kM; ++mi) {
            mma_16816<kBf16>(s[mi][nb], a0[mi], b0, b1);
            mma_16816<kBf16>(s[mi][nb], a1[mi], b2, b3);
          }
        }
      }
#pragma unroll
      for (int mi = 0; mi < kM; ++mi) {
        const int r0 = wrow0 + mi * 16;
        const bool needs_mask = key0 + kKeyTileCols > p.len_k || (kCausal && key0 + kKeyTileCols - 1 > r0 + diag);
        if (needs_mask) mask_tile(s[mi], key0, p.len_k, kCausal, r0, diag, lane);
        online_softmax_tile<kBf16, D / 8>(s[mi], p.scale_log2, m[mi], l[mi], o[mi], pp[mi]);
      }
    }
    cp_async_wait<1>();
    __syncthreads();  // V_j visible
    if (j + 1 < n_tiles) {
      load_tile_async<kKeyTileCols, kRowBytes, kThreads>(sv + ((j + 1) & 1) * kTileBytes, vg, p.vs.token,
                                                         (j + 1) * kKeyTileCols, p.len_k, tid);
    }
    cp_async_commit();
    if (active) pv_tile<kBf16, D, kM>(o, pp, sv + (j & 1) * kTileBytes, lane);
  }
  cp_async_wait<0>();

  char* og = p.out + b * p.os.batch + h * p.os.head;
  float* lse = p.lse != nullptr ? p.lse + (static_cast<int64_t>(b) * p.heads_q + h) * p.len_q : nullptr;
  const float no_add[2] = {0.0f, 0.0f};
#pragma unroll
  for (int mi = 0; mi < kM; ++mi) {
    store_output<kBf16, D>(o[mi], m[mi], l[mi], 1.0f, og, p.os.token, lse, no_add, wrow0 + mi * 16, p.len_q, lane);
  }
}

template <int D, bool kBf16, bool kCausal, int kM>
void launch(const AttentionProblem& pr, const AttentionTensors& t, cudaStream_t stream) {
  constexpr bool kQInRegs = D == 64 && kM == 1;
  auto kernel = attention_fp16_kernel<D, kBf16, kCausal, kM, kQInRegs>;
  constexpr int smem = fp16_smem_bytes<D>();
  SAGEVAL_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  Fp16Params p{};
  static_cast<TensorBytes&>(p) = tensor_bytes(t);
  p.heads_q = pr.heads_q;
  p.group = pr.heads_q / pr.heads_kv;
  p.len_q = pr.len_q;
  p.len_k = pr.len_k;
  p.scale_log2 = numerics::qk_scale_log2(pr.sm_scale);
  const dim3 grid((pr.len_q + kRowsPerCta - 1) / kRowsPerCta, pr.heads_q, pr.batch);
  kernel<<<grid, 256 / kM, smem, stream>>>(p);
  SAGEVAL_CUDA_CHECK_LAUNCH();
}

template <int D, bool kBf16, bool kCausal>
void dispatch_rows(const AttentionProblem& pr, const AttentionTensors& t, cudaStream_t stream) {
  if (warp_rows_for(D, false) == 16) {
    launch<D, kBf16, kCausal, 1>(pr, t, stream);
  } else {
    launch<D, kBf16, kCausal, 2>(pr, t, stream);
  }
}

template <int D, bool kBf16>
void dispatch_causal(const AttentionProblem& pr, const AttentionTensors& t, cudaStream_t stream) {
  if (pr.causal) {
    dispatch_rows<D, kBf16, true>(pr, t, stream);
  } else {
    dispatch_rows<D, kBf16, false>(pr, t, stream);
  }
}

template <int D>
void dispatch_dtype(const AttentionProblem& pr, const AttentionTensors& t, cudaStream_t stream) {
  if (pr.dtype == ElementType::kBFloat16) {
    dispatch_causal<D, true>(pr, t, stream);
  } else {
    dispatch_causal<D, false>(pr, t, stream);
  }
}

}  // namespace

void attention_fp16_forward(const AttentionProblem& problem, const AttentionTensors& tensors, cudaStream_t stream) {
  validate_problem(problem, tensors, "attention_fp16_forward");
  if (problem.batch == 0 || problem.len_q == 0) return;
  if (problem.head_dim == 64) {
    dispatch_dtype<64>(problem, tensors, stream);
  } else {
    dispatch_dtype<128>(problem, tensors, stream);
  }
}

}  // namespace sageval::kernels
