// SageAttention-style attention over a quantized workspace (steps 4-7 of sage_int8_numerics.h), mma.sync.
//
// Algorithm. Same tiling as attention_fp16_sm80.cu: a CTA owns one 128-row Q block (numerics::kQBlockRows; one
// INT8 Q scale per 16-row tile in the workspace, equal across the block with per-block granularity) of one
// (batch, head); 4 warps x 32 rows (or 8 x 16); 64-key tiles (= one INT8 K block,
// one K scale) of K (int8, from the workspace) and V (fp16: the input, or the workspace copy for bf16 input) are
// double buffered through shared memory with cp.async. Per tile and warp:
//   S_int(16x64) = Q_int8 K_int8^T      ldmatrix + mma.sync.m16n8k32.s8.s8.s32 (exact INT32)
//   t = float(S_int) * (q_scale * k_scale)   (dequant_scale(), the product rounded to float first)
//   masking with -inf; base-2 online softmax: m' = max(m, rowmax t); P = fp16(exp2(t - m')); l from the rounded
//   P; O = O*exp2(m-m') + P.V on m16n8k16 f16 with FP32 accumulation.
// Epilogue: O / l (x v_scale = 2^e for bf16 input), rounded to the input dtype; LSE = ln2*(m + log2 l) +
// sm_scale * (q . k_mean) (undoing the K smoothing; q . k_mean comes from the quantization pass).
//
// Rounding steps: INT32 exact; one float conversion + one multiply; exp2f; P to fp16; FP32 accumulation; the
// per-tile rescale; O/l; final rounding (and the exact power-of-two output factor).
//
// Counts per (batch, head): FLOPs = 4 * Nq * Nk * D (half INT8 Q.K^T, half FP16 P.V; about half of it when causal
// with Nq == Nk). Minimum bytes = Nq*D + Nk*D (int8 Q, K) + 2*Nk*D (V) + 2*Nq*D (out) (+ scales, LSE).
// Shared memory: 128*D (Q) + 2*64*D (K) + 2*64*2*D (V) = 48 KiB (D=128) or 24 KiB (D=64).
#include <cuda_runtime.h>

#include <cmath>
#include <stdexcept>

#include "sageval/kernels/attention_kernels.h"
#include "sageval/kernels/cuda_check.h"
#include "flash_tile.cuh"
#include "kernel_tuning.h"
#include "sageval/kernels/sage_int8_numerics.h"
#include "sage_int8_paths.h"
#include "sm80_primitives.cuh"

namespace sageval::kernels {
namespace {

using namespace sm80;
namespace nx = sageval::numerics;

constexpr int kRowsPerCta = nx::kQBlockRows;
static_assert(kRowsPerCta == 128, "the kernel tiles 128 query rows per CTA");
static_assert(nx::kKBlockRows == kKeyTileCols && nx::kKeyTile == kKeyTileCols, "one K scale per key tile");

struct Int8Params {
  const int8_t* q;  // [B, Hq, Nq_padded, D]
  const int8_t* k;  // [B, Hkv, Nk_padded, D]
  const char* v;    // fp16, strides in bytes
  Strides4 vs;
  char* out;
  Strides4 os;  // bytes
  float* lse;
  const float* q_scale;
  const float* k_scale;
  const float* q_dot_mean;
  const float* v_scale;  // null for fp16 input
  int heads_q, group, len_q, len_k, len_q_padded, len_k_padded, k_blocks;
  float sm_scale;
};

template <int D>
constexpr int int8_smem_bytes() {
  return kRowsPerCta * D + 2 * kKeyTileCols * D + 2 * kKeyTileCols * D * 2;
}

// kBf16: the output dtype (V then comes from the workspace FP16 copy and the output is multiplied by v_scale).
template <int D, bool kBf16, bool kCausal, int kM>
__global__ void __launch_bounds__(256 / kM, 2) attention_int8_kernel(const Int8Params p) {
  constexpr int kThreads = 256 / kM;
  constexpr int kQRowBytes = D;      // int8
  constexpr int kVRowBytes = D * 2;  // fp16
  constexpr int kKTileBytes = kKeyTileCols * kQRowBytes;
  constexpr int kVTileBytes = kKeyTileCols * kVRowBytes;
  constexpr int kKSteps = D / 32;  // m16n8k32 steps over the head dim
  extern __shared__ __align__(1024) char smem[];
  const uint32_t sq = smem_u32(smem);
  const uint32_t sk = sq + kRowsPerCta * kQRowBytes;
  const uint32_t sv = sk + 2 * kKTileBytes;

  const int tid = threadIdx.x;
  const int warp = tid / 32;
  const int lane = tid % 32;
  const int qblock = gridDim.x - 1 - blockIdx.x;
  const int h = blockIdx.y;
  const int b = blockIdx.z;
  const int hk = h / p.group;
  const int heads_kv = p.heads_q / p.group;
  const int m0 = qblock * kRowsPerCta;
  const int diag = p.len_k - p.len_q;
  const int64_t bhq = static_cast<int64_t>(b) * p.heads_q + h;
  const int64_t bhk = static_cast<int64_t>(b) * heads_kv + hk;

  const char* qg = reinterpret_cast<const char*>(p.q + bhq * p.len_q_padded * D);
  const char* kg = reinterpret_cast<const char*>(p.k + bhk * p.len_k_padded * D);
  const char* vg = p.v + b * p.vs.batch + hk * p.vs.head;
  const float* k_scale = p.k_scale + bhk * p.k_blocks;

  int n_keys = p.len_k;
  if (kCausal) n_keys = min(n_keys, m0 + kRowsPerCta + diag);
  const int n_tiles = n_keys > 0 ? (n_keys + kKeyTileCols - 1) / kKeyTileCols : 0;

  // Q and K rows are padded (zeros) in the workspace: no bounds needed. V rows past len_k are zero-filled.
  load_tile_async<kRowsPerCta, kQRowBytes, kThreads>(sq, qg, kQRowBytes, m0, p.len_q_padded, tid);
  if (n_tiles > 0) load_tile_async<kKeyTileCols, kQRowBytes, kThreads>(sk, kg, kQRowBytes, 0, p.len_k_padded, tid);
  cp_async_commit();
  if (n_tiles > 0) load_tile_async<kKeyTileCols, kVRowBytes, kThreads>(sv, vg, p.vs.token, 0, p.len_k, tid);
  cp_async_commit();

  const int wrow0 = m0 + warp * 16 * kM;
  float q_scale[kM];  // one per 16-row tile (the workspace's layout for either Q granularity)
#pragma unroll
  for (int mi = 0; mi < kM; ++mi) q_scale[mi] = p.q_scale[nx::q_scale_slot(bhq * p.len_q_padded + wrow0 + 16 * mi)];
  const uint32_t a_off = tile_offset<kQRowBytes>(warp * 16 * kM + (lane & 7) + ((lane >> 3) & 1) * 8, lane >> 4);
  const uint32_t b_off = tile_offset<kQRowBytes>(lane & 7, lane >> 3);

  // Q fragments stay in registers with one row tile per warp; with two they are re-read from shared memory
  // each tile (keeps the kernel under 255 registers without spills).
  constexpr bool kQInRegs = kM == 1;
  uint32_t qf[kQInRegs ? kM : 1][kQInRegs ? kKSteps : 1][4];
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
    __syncthreads();
    if (j + 1 < n_tiles) {
      load_tile_async<kKeyTileCols, kQRowBytes, kThreads>(sk + ((j + 1) & 1) * kKTileBytes, kg, kQRowBytes,
                                                          (j + 1) * kKeyTileCols, p.len_k_padded, tid);
    }
    cp_async_commit();
    if (kQInRegs && j == 0) {
#pragma unroll
      for (int mi = 0; mi < kM; ++mi)
#pragma unroll
        for (int ks = 0; ks < kKSteps; ++ks)
          ldmatrix_x4(sq + mi * 16 * kQRowBytes + (a_off ^ (ks * 32)), qf[mi][ks][0], qf[mi][ks][1], qf[mi][ks][2],
                      qf[mi][ks][3]);
    }
    const int key0 = j * kKeyTileCols;
    const bool active = !kCausal || key0 <= wrow0 + 16 * kM - 1 + diag;
    uint32_t pp[kM][kScoreBlocks][2];
    if (active) {
      int si[kM][kScoreBlocks][4];
#pragma unroll
      for (int mi = 0; mi < kM; ++mi)
#pragma unroll
        for (int nb = 0; nb < kScoreBlocks; ++nb) si[mi][nb][0] = si[mi][nb][1] = si[mi][nb][2] = si[mi][nb][3] = 0;
      const uint32_t skj = sk + (j & 1) * kKTileBytes;
#pragma unroll
      for (int kk = 0; kk < kKSteps / 2; ++kk) {
        uint32_t a0[kM][4], a1[kM][4];
#pragma unroll
        for (int mi = 0; mi < kM; ++mi) {
          if constexpr (kQInRegs) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              a0[mi][e] = qf[mi][2 * kk][e];
              a1[mi][e] = qf[mi][2 * kk + 1][e];
            }
          } else {
            const uint32_t qa = sq + mi * 16 * kQRowBytes;
            ldmatrix_x4(qa + (a_off ^ (kk * 64)), a0[mi][0], a0[mi][1], a0[mi][2], a0[mi][3]);
            ldmatrix_x4(qa + (a_off ^ (kk * 64 + 32)), a1[mi][0], a1[mi][1], a1[mi][2], a1[mi][3]);
          }
        }
#pragma unroll
        for (int nb = 0; nb < kScoreBlocks; ++nb) {
          uint32_t b0, b1, b2, b3;
          ldmatrix_x4(skj + (b_off ^ (kk * 64)) + nb * 8 * kQRowBytes, b0, b1, b2, b3);
#pragma unroll
          for (int mi = 0; mi < kM; ++mi) {
            mma_16832_s8(si[mi][nb], a0[mi], b0, b1);
            mma_16832_s8(si[mi][nb], a1[mi], b2, b3);
          }
        }
      }
      const float ks = k_scale[j];
#pragma unroll
      for (int mi = 0; mi < kM; ++mi) {
        const float dq = nx::dequant_scale(q_scale[mi], ks);
        float t[kScoreBlocks][4];
#pragma unroll
        for (int nb = 0; nb < kScoreBlocks; ++nb)
#pragma unroll
          for (int e = 0; e < 4; ++e) t[nb][e] = __fmul_rn(__int2float_rn(si[mi][nb][e]), dq);
        const int r0 = wrow0 + mi * 16;
        const bool needs_mask = key0 + kKeyTileCols > p.len_k || (kCausal && key0 + kKeyTileCols - 1 > r0 + diag);
        if (needs_mask) mask_tile(t, key0, p.len_k, kCausal, r0, diag, lane);
        online_softmax_tile<false, D / 8>(t, 1.0f, m[mi], l[mi], o[mi], pp[mi]);
      }
    }
    cp_async_wait<1>();
    __syncthreads();
    if (j + 1 < n_tiles) {
      load_tile_async<kKeyTileCols, kVRowBytes, kThreads>(sv + ((j + 1) & 1) * kVTileBytes, vg, p.vs.token,
                                                          (j + 1) * kKeyTileCols, p.len_k, tid);
    }
    cp_async_commit();
    if (active) pv_tile<false, D, kM>(o, pp, sv + (j & 1) * kVTileBytes, lane);
  }
  cp_async_wait<0>();

  char* og = p.out + b * p.os.batch + h * p.os.head;
  float* lse = p.lse != nullptr ? p.lse + bhq * p.len_q : nullptr;
  const float out_factor = kBf16 ? p.v_scale[bhk] : 1.0f;
#pragma unroll
  for (int mi = 0; mi < kM; ++mi) {
    const int r0 = wrow0 + mi * 16;
    float add[2] = {0.0f, 0.0f};
    if (lse != nullptr) {
      // q_dot_mean is stored for all padded rows (0 past len_q).
      add[0] = p.sm_scale * p.q_dot_mean[bhq * p.len_q_padded + r0 + (lane >> 2)];
      add[1] = p.sm_scale * p.q_dot_mean[bhq * p.len_q_padded + r0 + (lane >> 2) + 8];
    }
    store_output<kBf16, D>(o[mi], m[mi], l[mi], out_factor, og, p.os.token, lse, add, r0, p.len_q, lane);
  }
}

template <int D, bool kBf16, bool kCausal, int kM>
void launch(const AttentionProblem& pr, const AttentionTensors& t, const SageInt8Workspace& ws,
            cudaStream_t stream) {
  auto kernel = attention_int8_kernel<D, kBf16, kCausal, kM>;
  constexpr int smem = int8_smem_bytes<D>();
  SAGEVAL_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  const SageInt8WorkspaceLayout lay = sage_int8_workspace_layout(pr);
  Int8Params p{};
  p.q = ws.q_int8;
  p.k = ws.k_int8;
  if (kBf16) {
    if (ws.v_fp16 == nullptr || ws.v_scale == nullptr) {
      throw std::runtime_error("sage_int8_attention: bf16 input needs the workspace's v_fp16 and v_scale");
    }
    p.v = reinterpret_cast<const char*>(ws.v_fp16);
    const int64_t nk = pr.len_k;
    p.vs = Strides4{static_cast<int64_t>(pr.heads_kv) * nk * D * 2, nk * D * 2, D * 2};
  } else {
    p.v = static_cast<const char*>(t.v);
    p.vs = Strides4{t.v_strides.batch * 2, t.v_strides.head * 2, t.v_strides.token * 2};
  }
  p.out = static_cast<char*>(t.out);
  p.os = Strides4{t.out_strides.batch * 2, t.out_strides.head * 2, t.out_strides.token * 2};
  p.lse = t.lse;
  p.q_scale = ws.q_scale;
  p.k_scale = ws.k_scale;
  p.q_dot_mean = ws.q_dot_mean;
  p.v_scale = ws.v_scale;
  p.heads_q = pr.heads_q;
  p.group = pr.heads_q / pr.heads_kv;
  p.len_q = pr.len_q;
  p.len_k = pr.len_k;
  p.len_q_padded = lay.len_q_padded;
  p.len_k_padded = lay.len_k_padded;
  p.k_blocks = lay.k_blocks;
  p.sm_scale = pr.sm_scale;
  const dim3 grid(lay.q_blocks, pr.heads_q, pr.batch);
  kernel<<<grid, 256 / kM, smem, stream>>>(p);
  SAGEVAL_CUDA_CHECK_LAUNCH();
}

template <int D, bool kBf16, bool kCausal>
void dispatch_rows(const AttentionProblem& pr, const AttentionTensors& t, const SageInt8Workspace& ws,
                   cudaStream_t stream) {
  if (warp_rows_for(D, true) == 16) {
    launch<D, kBf16, kCausal, 1>(pr, t, ws, stream);
  } else {
    launch<D, kBf16, kCausal, 2>(pr, t, ws, stream);
  }
}

template <int D>
void dispatch(const AttentionProblem& pr, const AttentionTensors& t, const SageInt8Workspace& ws,
              cudaStream_t stream) {
  const bool bf16 = pr.dtype == ElementType::kBFloat16;
  if (bf16) {
    pr.causal ? dispatch_rows<D, true, true>(pr, t, ws, stream) : dispatch_rows<D, true, false>(pr, t, ws, stream);
  } else {
    pr.causal ? dispatch_rows<D, false, true>(pr, t, ws, stream) : dispatch_rows<D, false, false>(pr, t, ws, stream);
  }
}

}  // namespace

void sage_int8_attention_sm80(const AttentionProblem& problem, const AttentionTensors& tensors,
                              const SageInt8Workspace& workspace, cudaStream_t stream) {
  if (problem.head_dim == 64) {
    dispatch<64>(problem, tensors, workspace, stream);
  } else {
    dispatch<128>(problem, tensors, workspace, stream);
  }
}

}  // namespace sageval::kernels
