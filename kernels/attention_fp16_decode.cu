// Split-KV attention for short queries (decode: a few new tokens against a long cache), FP16/BF16, mma.sync.
// The prefill kernel (attention_fp16_sm80.cu) tiles 128 query rows per CTA and one CTA per (query block, head):
// at Nq = 1 it computes 1 row of 128 and runs B * Hq CTAs over the whole cache each, too few to fill the GPU
// (FlashDecoding's observation). Here the cache is split across warps and the partial results merged by their
// log-sum-exp, as FlashDecoding and FlashInfer do.
//
// Algorithm, one or two launches on the caller's stream:
//  1. decode_kernel: grid (ceil(chunks / 4), Hkv, B), 4 warps per CTA, each warp one chunk of keys. The query rows
//     of one kv head (its `group` query heads times Nq tokens, at most 16: one m16 tile) are read once per CTA into
//     shared memory, so K and V are read once per kv head (GQA). Per 64-key tile of its chunk a warp copies K and
//     V into its own swizzled shared tiles (cp.async: the first tile before Q is read, the next K right after this
//     tile's Q.K^T, the next V after its P.V), S = Q K^T (m16n8k16, FP32), masks (keys past len_k; causal,
//     bottom-right), runs the online softmax of the prefill kernel (P rounded to the input type, row sums of the
//     rounded P; flash_tile.cuh) and O += P V. The CTA then merges its warps' chunks in shared memory by their
//     log-sum-exp (per row M = max m_w, l = sum l_w 2^(m_w - M), O = sum O_w 2^(m_w - M)). With one CTA per kv head
//     (many heads: batch 32 with 8 kv heads) that is the answer, O / l, written by this kernel; otherwise each CTA
//     writes its unnormalised O, M and l (FP32) to the workspace.
//  2. decode_merge (only with several CTAs per kv head): one CTA per (row, kv head, batch, 32 dims) merges the CTAs'
//     partials the same way, O / L rounded to the input type. A programmatic dependent launch on 9.0+ devices, so
//     its launch overlaps the decode kernel.
//  A chunk whose keys a row cannot see has m = -inf and weighs 0; a row that sees no key gets 0 and LSE -inf, as
//  the prefill kernel. LSE = ln2 (M + log2 l).
// H200, sageval_decode_bench: the merge kernel's launch overlapped, 19.8 -> 18.5 us at batch 1 and 8K; the copies
// issued as early as their buffers allow, a further 1-5% at batch 1-8
// (docs/measurements/h200_decode_attention_2026-11-29.md); no merge kernel where one CTA per kv head does it all,
// batch 32 at 2K 78 -> 68 us (docs/measurements/h200_decode_attention_2026-11-30.md).
// Rounding steps: as the prefill kernel up to the per-warp partials (P is rounded relative to the warp's running
// max instead of the whole row's); then one FP32 rescale and sum per warp, and one per CTA where there are several.
//
// Counts per (batch, kv head): FLOPs = 4 * rows * Nk * D (rows = group * Nq, padded to 16 in the tensor cores);
// minimum bytes = 2 * 2 * Nk * D (K and V, read once) + 2 * 2 * rows * D (Q, out) + partials 4 * ctas * rows *
// (D + 2) written and read once (ctas: CTAs per kv head; none with one). Memory-bound: the floor is reading the
// cache once.
// Shared memory: 16 rows of Q + per warp one K and one V tile of 64 keys: (16 + 4 * 2 * 64) * D * 2 bytes = 132 KiB
// (D = 128: one CTA per SM on an H100/H200; more than an sm_89 block may have, where the prefill kernel runs
// instead, see attention_fp16_decode_workspace_bytes) or 66 KiB (D = 64).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include "sageval/kernels/attention_kernels.h"
#include "sageval/kernels/cuda_check.h"
#include "block_reduce.cuh"
#include "flash_tile.cuh"
#include "programmatic_launch.cuh"
#include "sageval/kernels/sage_int8_numerics.h"
#include "sm80_primitives.cuh"

namespace sageval::kernels {
namespace {

using namespace sm80;

constexpr int kWarps = 4;
constexpr int kRows = 16;  // one m16 tile of query rows per kv head
// A bound, not a need: the merge kernel's weights (a float per CTA of the head, 1 KiB at most) stay far within the
// 48 KiB of shared memory a launch gets without asking for more whatever the device (one kv head at D = 64 plans 396
// CTAs on an H200 without it).
constexpr int kMaxCtasPerHead = 256;

struct DecodeParams : TensorBytes {
  float* part_o;   // [B, Hkv, ctas, rows, D]: each CTA's chunks merged (none with one CTA per kv head)
  float* part_ml;  // [B, Hkv, ctas, rows, 2]: m, l
  const int32_t* kv_lengths;  // [B] or null
  int heads_q, group, len_q, len_k, rows, chunk_keys, chunks, ctas;
  float scale_log2;
};

// Row r of a kv head's tile is query token r / group of query head hk * group + r % group.
__device__ __forceinline__ const char* q_row(const DecodeParams& p, int b, int hk, int r) {
  return p.q + b * p.qs.batch + (hk * p.group + r % p.group) * p.qs.head + (r / p.group) * p.qs.token;
}

// The merge kernel is a programmatic dependent launch (programmatic_launch.cuh): the decode kernel lets it launch at
// once (its CTAs start where room is left beside the decode kernel) and it waits for the decode grid before
// reading the partials; the launch and ramp of the second kernel then overlap the first.

// Columns [col, col + 4) of row r of a kv head's tile: O / l rounded to the input type (two 4-byte stores), and the
// row's LSE (by the thread of column 0). A row that saw no key (l = 0) gets 0 and -inf.
template <bool kBf16>
__device__ __forceinline__ void store_row4(const DecodeParams& p, int b, int hk, int r, int col, float4 o, float mx,
                                           float l) {
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  const int h = hk * p.group + r % p.group, token = r / p.group;
  char* dst = p.out + b * p.os.batch + h * p.os.head + token * p.os.token + col * 2;
  reinterpret_cast<uint32_t*>(dst)[0] = pack2<kBf16>(o.x * inv, o.y * inv);
  reinterpret_cast<uint32_t*>(dst)[1] = pack2<kBf16>(o.z * inv, o.w * inv);
  if (p.lse != nullptr && col == 0)
    p.lse[(static_cast<int64_t>(b) * p.heads_q + h) * p.len_q + token] =
        l > 0.0f ? numerics::kLn2 * (mx + log2f(l)) : -INFINITY;
}

// One warp copies rows [row0, row0 + 64) of a [token, dim] matrix into a swizzled tile (rows >= n_valid zero).
template <int kRowBytes>
__device__ __forceinline__ void load_tile_warp(uint32_t tile, const char* base, int64_t stride_bytes, int row0,
                                               int n_valid, int lane) {
  constexpr int kChunks = kRowBytes / 16;
  constexpr int kRowStep = 32 / kChunks;
  const int c = lane % kChunks;
  const char* src = base + static_cast<int64_t>(row0 + lane / kChunks) * stride_bytes + c * 16;
  const int64_t step = kRowStep * stride_bytes;
#pragma unroll 4  // (fully unrolled, the addresses of all 32 copies were held in registers and spilled)
  for (int it = 0; it < kKeyTileCols / kRowStep; ++it) {
    const int r = lane / kChunks + it * kRowStep;
    const bool valid = row0 + r < n_valid;
    cp_async_16(tile + tile_offset<kRowBytes>(r, c), valid ? src : base, valid);
    src += step;
  }
}

// D = 128 takes 132 KiB of shared memory, one CTA per SM on an H100/H200: no register cap for occupancy there.
template <int D, bool kBf16, bool kCausal>
__global__ void __launch_bounds__(32 * kWarps, D == 64 ? 3 : 1) decode_kernel(const DecodeParams p) {
  constexpr int kRowBytes = D * 2;
  constexpr int kTileBytes = kKeyTileCols * kRowBytes;
  extern __shared__ __align__(1024) char smem[];
  const uint32_t sq = smem_u32(smem);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const uint32_t sk = sq + kRows * kRowBytes + warp * 2 * kTileBytes;
  const uint32_t sv = sk + kTileBytes;
  const int hk = blockIdx.y, b = blockIdx.z;
  const int chunk = blockIdx.x * kWarps + warp;
  const int heads_kv = p.heads_q / p.group;
  let_dependents_launch();

  // With kv_lengths the grid covers len_k keys and the chunks past a row's length are empty (m = -inf, weight 0).
  const int len_k = p.kv_lengths == nullptr ? p.len_k : max(0, min(p.len_k, p.kv_lengths[b]));
  const int key_begin = chunk * p.chunk_keys;
  const int key_end = chunk < p.chunks ? min(len_k, key_begin + p.chunk_keys) : key_begin;
  const int diag = len_k - p.len_q;
  const char* kg = p.k + b * p.ks.batch + hk * p.ks.head;
  const char* vg = p.v + b * p.vs.batch + hk * p.vs.head;
  // The first tile's copies go out before the Q tile's loads, so that Q's round trip overlaps them. From then on
  // each tile's K and V copy are one commit group each, issued as soon as the buffer is free: the next K after
  // this tile's Q.K^T, the next V after its P.V (a group is committed even when empty, so that the waits count
  // the same groups in every iteration).
  if (key_begin < key_end) {
    load_tile_warp<kRowBytes>(sk, kg, p.ks.token, key_begin, key_end, lane);
    cp_async_commit();
    load_tile_warp<kRowBytes>(sv, vg, p.vs.token, key_begin, key_end, lane);
    cp_async_commit();
  }

  // Q tile: row r holds query row r (zeros past `rows`), every warp reads it.
  for (int i = threadIdx.x; i < kRows * (D / 8); i += 32 * kWarps) {
    const int r = i / (D / 8), c = i % (D / 8);
    uint4 v = make_uint4(0, 0, 0, 0);
    if (r < p.rows) v = *reinterpret_cast<const uint4*>(q_row(p, b, hk, r) + c * 16);
    *reinterpret_cast<uint4*>(smem + tile_offset<kRowBytes>(r, c)) = v;
  }
  __syncthreads();
  // A warp past the last chunk has no keys (key_end == key_begin): it skips the loop and joins the merge with
  // m = -inf, weight 0.
  // The lane's two rows (g, g + 8) as query tokens, for the causal mask; padding rows see every key.
  int row_token[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int r = (lane >> 2) + 8 * i;
    row_token[i] = r < p.rows ? r / p.group : p.len_q - 1;
  }

  const uint32_t a_off = tile_offset<kRowBytes>((lane & 7) + ((lane >> 3) & 1) * 8, lane >> 4);
  const uint32_t b_off = tile_offset<kRowBytes>(lane & 7, lane >> 3);
  // Q fragments: held in registers at D = 64; at D = 128 read from shared memory per tile (held, they spill).
  constexpr bool kQInRegs = D == 64;
  uint32_t qf[kQInRegs ? D / 16 : 1][4];
  if constexpr (kQInRegs) {
#pragma unroll
    for (int ks = 0; ks < D / 16; ++ks) ldmatrix_x4(sq + (a_off ^ (ks * 32)), qf[ks][0], qf[ks][1], qf[ks][2], qf[ks][3]);
  }

  float o[1][D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i) o[0][i][0] = o[0][i][1] = o[0][i][2] = o[0][i][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};

  for (int key0 = key_begin; key0 < key_end; key0 += kKeyTileCols) {
    const bool more = key0 + kKeyTileCols < key_end;
    cp_async_wait<1>();  // this tile's K (its V may still be on the way)
    __syncwarp();
    float s[kScoreBlocks][4];
#pragma unroll
    for (int nb = 0; nb < kScoreBlocks; ++nb) s[nb][0] = s[nb][1] = s[nb][2] = s[nb][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < D / 32; ++kk) {
      uint32_t a0[4], a1[4];
      if constexpr (kQInRegs) {
#pragma unroll
        for (int e = 0; e < 4; ++e) a0[e] = qf[2 * kk][e], a1[e] = qf[2 * kk + 1][e];
      } else {
        ldmatrix_x4(sq + (a_off ^ (kk * 64)), a0[0], a0[1], a0[2], a0[3]);
        ldmatrix_x4(sq + (a_off ^ (kk * 64 + 32)), a1[0], a1[1], a1[2], a1[3]);
      }
#pragma unroll
      for (int nb = 0; nb < kScoreBlocks; ++nb) {
        uint32_t b0, b1, b2, b3;
        ldmatrix_x4(sk + (b_off ^ (kk * 64)) + nb * 8 * kRowBytes, b0, b1, b2, b3);
        mma_16816<kBf16>(s[nb], a0, b0, b1);
        mma_16816<kBf16>(s[nb], a1, b2, b3);
      }
    }
    __syncwarp();  // every lane has read the K tile
    if (more) load_tile_warp<kRowBytes>(sk, kg, p.ks.token, key0 + kKeyTileCols, key_end, lane);
    cp_async_commit();
#pragma unroll
    for (int nb = 0; nb < kScoreBlocks; ++nb)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int key = key0 + nb * 8 + 2 * (lane & 3) + (e & 1);
        if (key >= key_end || (kCausal && key > row_token[e >> 1] + diag)) s[nb][e] = -INFINITY;
      }
    uint32_t pp[1][kScoreBlocks][2];
    online_softmax_tile<kBf16, D / 8>(s, p.scale_log2, m, l, o[0], pp[0]);
    cp_async_wait<1>();  // this tile's V (the next K may still be on the way)
    __syncwarp();
    pv_tile<kBf16, D, 1>(o, pp, sv, lane);
    __syncwarp();  // every lane has read the V tile
    if (more) load_tile_warp<kRowBytes>(sv, vg, p.vs.token, key0 + kKeyTileCols, key_end, lane);
    cp_async_commit();
  }

#pragma unroll
  for (int i = 0; i < 2; ++i) {  // complete row sums (each lane held its columns' part)
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 1);
    l[i] += __shfl_xor_sync(0xffffffffu, l[i], 2);
  }

  // 1. The CTA's warps merged in shared memory (the K and V tiles are free once every warp is past its loop).
  __syncthreads();
  float* warp_o = reinterpret_cast<float*>(smem + kRows * kRowBytes);  // [kWarps][kRows][D]
  float2* warp_ml = reinterpret_cast<float2*>(warp_o + kWarps * kRows * D);  // [kWarps][kRows]
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int r = (lane >> 2) + 8 * i;
    float* wo = warp_o + (warp * kRows + r) * D + 2 * (lane & 3);
#pragma unroll
    for (int db = 0; db < D / 8; ++db) *reinterpret_cast<float2*>(wo + db * 8) = make_float2(o[0][db][2 * i], o[0][db][2 * i + 1]);
    if ((lane & 3) == 0) warp_ml[warp * kRows + r] = make_float2(m[i], l[i]);
  }
  __syncthreads();
  const bool one_cta = gridDim.x == 1;
  const int64_t head = static_cast<int64_t>(b) * heads_kv + hk;
  const int64_t part = head * gridDim.x + blockIdx.x;
  for (int i = threadIdx.x; i < p.rows * (D / 4); i += 32 * kWarps) {
    const int r = i / (D / 4), col = (i % (D / 4)) * 4;
    float mx = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) mx = fmaxf(mx, warp_ml[w * kRows + r].x);
    float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    float sum = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float2 ml = warp_ml[w * kRows + r];
      const float wt = ml.x == -INFINITY ? 0.0f : exp2f(ml.x - mx);  // also 0 for all when the row sees no key
      const float4 v = *reinterpret_cast<const float4*>(warp_o + (w * kRows + r) * D + col);
      sum = fmaf(ml.y, wt, sum);
      acc = make_float4(fmaf(v.x, wt, acc.x), fmaf(v.y, wt, acc.y), fmaf(v.z, wt, acc.z), fmaf(v.w, wt, acc.w));
    }
    if (one_cta) {
      store_row4<kBf16>(p, b, hk, r, col, acc, mx, sum);
    } else {
      *reinterpret_cast<float4*>(p.part_o + (part * p.rows + r) * D + col) = acc;
      if (col == 0) *reinterpret_cast<float2*>(p.part_ml + (part * p.rows + r) * 2) = make_float2(mx, sum);
    }
  }
}

constexpr int kMergeThreads = 256;

constexpr int kMergeCols = 32;  // output columns per merge CTA

// Where a kv head has several CTAs: one merge CTA per (row, kv head, batch, 32 columns): the row's max over the
// CTAs' partials, each partial's weight 2^(m_c - M) (in shared memory), L, then the weighted sum of the partials'
// O for its columns with the threads split over (column pair, partial group). Splitting the columns gives a
// batch-1 call with few rows D / 32 times more CTAs to read the partials with (each partial's weight is
// recomputed per CTA: 8 bytes a partial).
template <int D, bool kBf16>
__global__ void __launch_bounds__(kMergeThreads) decode_merge_kernel(const DecodeParams p) {
  extern __shared__ float weight[];  // [ctas]
  __shared__ float red[kMergeThreads / 32];
  constexpr int kPairs = kMergeCols / 2, kGroups = kMergeThreads / kPairs;
  __shared__ float2 acc[kGroups][kPairs];
  const int r = blockIdx.x / (D / kMergeCols), hk = blockIdx.y, b = blockIdx.z;
  const int col0 = (blockIdx.x % (D / kMergeCols)) * kMergeCols;
  const int heads_kv = p.heads_q / p.group;
  wait_for_prerequisite_grid();  // the partials are complete and visible past this point
  const int64_t part0 = (static_cast<int64_t>(b) * heads_kv + hk) * p.ctas;
  const float* ml = p.part_ml + (part0 * p.rows + r) * 2;  // partial c at ml[c * rows * 2]
  const int64_t ml_step = static_cast<int64_t>(p.rows) * 2;
  float mx = -INFINITY;
  for (int c = threadIdx.x; c < p.ctas; c += kMergeThreads) mx = fmaxf(mx, ml[c * ml_step]);
  mx = block_reduce<kMergeThreads>(mx, red, MaxOp{});
  float l = 0.0f;
  for (int c = threadIdx.x; c < p.ctas; c += kMergeThreads) {
    const float mc = ml[c * ml_step];
    const float w = mc == -INFINITY ? 0.0f : exp2f(mc - mx);  // also 0 for every partial when the row sees no key
    weight[c] = w;
    l = fmaf(ml[c * ml_step + 1], w, l);
  }
  l = block_reduce<kMergeThreads>(l, red, SumOp{});  // its barrier publishes `weight` too
  const int pair = threadIdx.x % kPairs, group = threadIdx.x / kPairs;
  float2 o = make_float2(0.0f, 0.0f);
  const float* po = p.part_o + (part0 * p.rows + r) * D + col0 + 2 * pair;
  const int64_t o_step = static_cast<int64_t>(p.rows) * D;
  for (int c = group; c < p.ctas; c += kGroups) {
    const float w = weight[c];
    if (w == 0.0f) continue;
    const float2 v = *reinterpret_cast<const float2*>(po + c * o_step);
    o.x = fmaf(v.x, w, o.x);
    o.y = fmaf(v.y, w, o.y);
  }
  acc[group][pair] = o;
  __syncthreads();
  if (group != 0) return;
  for (int g = 1; g < kGroups; ++g) o.x += acc[g][pair].x, o.y += acc[g][pair].y;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  const int h = hk * p.group + r % p.group, token = r / p.group;
  char* dst = p.out + b * p.os.batch + h * p.os.head + token * p.os.token + (col0 / 2 + pair) * 4;
  *reinterpret_cast<uint32_t*>(dst) = pack2<kBf16>(o.x * inv, o.y * inv);
  if (p.lse != nullptr && pair == 0 && col0 == 0) {
    p.lse[(static_cast<int64_t>(b) * p.heads_q + h) * p.len_q + token] =
        l > 0.0f ? numerics::kLn2 * (mx + log2f(l)) : -INFINITY;
  }
}

template <int D>
constexpr int kernel_smem_bytes() {
  return (kRows + kWarps * 2 * kKeyTileCols) * D * 2;
}
// The CTA's merge of its warps reuses the K and V tiles (past the Q tile) for the warps' O, m and l.
template <int D>
constexpr bool cta_merge_fits() {  // the warps' O (FP32) and m, l within the K and V tiles
  return kWarps * kRows * (D * 4 + 8) <= kWarps * 2 * kKeyTileCols * D * 2;
}
static_assert(cta_merge_fits<64>() && cta_merge_fits<128>(), "the CTA merge fits in the K and V tiles");

// The kernel's shared memory is above the 48 KiB a launch gets without asking: allowed once per device for every
// instantiation (where it fits; the fit check refuses the others), not at each launch, which an eager decode step
// would pay on the host every call.
void allow_kernel_smem() {
  int device = 0, optin = 0;
  SAGEVAL_CUDA_CHECK(cudaGetDevice(&device));
  SAGEVAL_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  const auto allow = [optin](auto kernel, int smem) {
    if (smem <= optin) SAGEVAL_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  };
  allow(decode_kernel<64, false, false>, kernel_smem_bytes<64>());
  allow(decode_kernel<64, false, true>, kernel_smem_bytes<64>());
  allow(decode_kernel<64, true, false>, kernel_smem_bytes<64>());
  allow(decode_kernel<64, true, true>, kernel_smem_bytes<64>());
  allow(decode_kernel<128, false, false>, kernel_smem_bytes<128>());
  allow(decode_kernel<128, false, true>, kernel_smem_bytes<128>());
  allow(decode_kernel<128, true, false>, kernel_smem_bytes<128>());
  allow(decode_kernel<128, true, true>, kernel_smem_bytes<128>());
}

// What the split and the fit check need to know of the current device, read once per device (driver calls that an
// eager decode step would otherwise make on every call).
struct DeviceFigures {
  int sms = 0, smem_per_sm = 0, smem_per_block = 0;  // smem_per_block: the opt-in maximum
};

const DeviceFigures& current_device_figures() {
  static std::mutex mutex;
  static std::map<int, DeviceFigures> known;  // by device ordinal; map nodes stay where they are
  int device = 0;
  SAGEVAL_CUDA_CHECK(cudaGetDevice(&device));
  const std::lock_guard<std::mutex> lock(mutex);
  auto it = known.find(device);
  if (it == known.end()) {
    DeviceFigures f;
    SAGEVAL_CUDA_CHECK(cudaDeviceGetAttribute(&f.sms, cudaDevAttrMultiProcessorCount, device));
    SAGEVAL_CUDA_CHECK(cudaDeviceGetAttribute(&f.smem_per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device));
    SAGEVAL_CUDA_CHECK(cudaDeviceGetAttribute(&f.smem_per_block, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    allow_kernel_smem();
    it = known.emplace(device, f).first;
  }
  return it->second;
}

struct Split {
  int rows, chunk_keys, chunks;
  int ctas;  // CTAs per kv head: ceil(chunks / kWarps)
};

// Chunks of whole 64-key tiles, sized so that the grid's warps fit the device at once: one wave, each warp a few
// tiles in turn (a warp waits for each tile's load, so a second wave costs as much as the tiles it adds, and more
// chunks add partials to write and merge). Measured on the H200 (2026-11-29, sageval_decode_bench and
// sageval_model_bench): four times as many warps as fit, one tile each for few heads, was up to 20% slower at
// batch 8-32; chunks of at least four tiles were 1.1-1.8x slower at batch 1.
Split split_of(const AttentionProblem& pr) {
  Split s;
  s.rows = pr.len_q * (pr.heads_q / pr.heads_kv);
  const DeviceFigures& dev = current_device_figures();
  const int sms = dev.sms, smem_per_sm = dev.smem_per_sm;
  const int smem = attention_fp16_decode_smem_bytes(pr.head_dim);
  const int blocks_per_sm = std::clamp(smem_per_sm / (smem + 1024), 1, 3);  // 1 KiB the runtime keeps per block
  const int64_t heads = static_cast<int64_t>(pr.batch) * pr.heads_kv;
  const int64_t resident_warps = static_cast<int64_t>(sms) * blocks_per_sm * kWarps;
  const int tiles = (pr.len_k + kKeyTileCols - 1) / kKeyTileCols;
  // Room for a whole number of CTAs per kv head (a CTA's warps share its head's Q tile): a split planned for fewer
  // chunks than a CTA has warps left warps idle (half of them at batch 32 with 8 kv heads: 1.2x slower, H200
  // 2026-11-29). Short caches still leave some idle: the chunks are whole tiles. At most kMaxCtasPerHead CTAs
  // (the merge kernel's shared memory).
  const int64_t chunks_per_head = std::clamp<int64_t>(
      resident_warps / std::max<int64_t>(1, heads) / kWarps * kWarps, kWarps, kMaxCtasPerHead * kWarps);
  const int tiles_per_chunk = std::max<int64_t>(1, (tiles + chunks_per_head - 1) / chunks_per_head);
  s.chunk_keys = tiles_per_chunk * kKeyTileCols;
  s.chunks = (pr.len_k + s.chunk_keys - 1) / s.chunk_keys;
  s.ctas = (s.chunks + kWarps - 1) / kWarps;
  return s;
}

// Workspace: the CTAs' partials (O, then m and l) where a kv head has more than one CTA; else a token 16 bytes, so
// that 0 bytes can keep meaning "not taken" (attention_fp16_decode_workspace_bytes).
int64_t workspace_bytes(const AttentionProblem& pr, const Split& sp) {
  if (sp.ctas == 1) return 16;
  const int64_t parts = static_cast<int64_t>(pr.batch) * pr.heads_kv * sp.ctas * sp.rows;
  return parts * (pr.head_dim + 2) * static_cast<int64_t>(sizeof(float));
}

template <int D, bool kBf16, bool kCausal>
void launch(const AttentionProblem& pr, const AttentionTensors& t, const Split& sp, void* workspace,
            cudaStream_t stream) {
  if (pr.batch > 65535 || pr.heads_kv > 65535)  // grid z and y
    throw std::invalid_argument("attention_fp16_decode: batch " + std::to_string(pr.batch) + " or kv heads " +
                                std::to_string(pr.heads_kv) + " above 65535, the most a grid dimension holds");
  DecodeParams p{};
  static_cast<TensorBytes&>(p) = tensor_bytes(t);
  const int64_t parts = static_cast<int64_t>(pr.batch) * pr.heads_kv * sp.ctas * sp.rows;
  p.part_o = static_cast<float*>(workspace);
  p.part_ml = p.part_o + parts * D;
  p.heads_q = pr.heads_q;
  p.group = pr.heads_q / pr.heads_kv;
  p.len_q = pr.len_q;
  p.len_k = pr.len_k;
  p.kv_lengths = t.kv_lengths;
  p.rows = sp.rows;
  p.chunk_keys = sp.chunk_keys;
  p.chunks = sp.chunks;
  p.ctas = sp.ctas;
  p.scale_log2 = numerics::qk_scale_log2(pr.sm_scale);
  constexpr int smem = kernel_smem_bytes<D>();  // allowed once per device (allow_kernel_smem)
  decode_kernel<D, kBf16, kCausal><<<dim3(sp.ctas, pr.heads_kv, pr.batch), 32 * kWarps, smem, stream>>>(p);
  SAGEVAL_CUDA_CHECK_LAUNCH();
  if (sp.ctas == 1) return;  // the decode kernel wrote the output
  const int merge_smem = sp.ctas * static_cast<int>(sizeof(float));  // at most kMaxCtasPerHead: 1 KiB
  launch_kernel(/*early=*/true, decode_merge_kernel<D, kBf16>, dim3(sp.rows * (D / kMergeCols), pr.heads_kv, pr.batch),
                dim3(kMergeThreads), merge_smem, stream, p);
}

template <int D, bool kBf16>
void dispatch_causal(const AttentionProblem& pr, const AttentionTensors& t, const Split& sp, void* ws,
                     cudaStream_t stream) {
  pr.causal ? launch<D, kBf16, true>(pr, t, sp, ws, stream) : launch<D, kBf16, false>(pr, t, sp, ws, stream);
}

// Why the kernel does not take the problem on the current device; empty where it does: at most kRows query rows per
// kv head, and the kernel's shared memory within one block's (sm_89 allows 99 KiB: D = 128 does not fit).
std::string refusal(const AttentionProblem& pr) {
  if (pr.heads_kv <= 0 || pr.batch == 0 || pr.len_q == 0 || pr.len_k == 0) return "no kv heads, or an empty batch, query or cache";
  const int64_t rows = int64_t{pr.len_q} * (pr.heads_q / pr.heads_kv);
  if (rows > kRows)
    return "query rows per kv head " + std::to_string(rows) + " > " + std::to_string(kRows);
  const int smem = attention_fp16_decode_smem_bytes(pr.head_dim), allowed = current_device_figures().smem_per_block;
  if (smem > allowed)
    return "D " + std::to_string(pr.head_dim) + " needs " + std::to_string(smem) +
           " bytes of shared memory, this device allows " + std::to_string(allowed) + " per block";
  return {};
}

}  // namespace

int attention_fp16_decode_smem_bytes(int head_dim) {
  return head_dim == 64 ? kernel_smem_bytes<64>() : kernel_smem_bytes<128>();
}

int64_t attention_fp16_decode_workspace_bytes(const AttentionProblem& pr) {
  static_assert(kDecodeMaxRows == kRows, "one m16 tile of query rows per kv head");
  return refusal(pr).empty() ? workspace_bytes(pr, split_of(pr)) : 0;
}

std::string attention_fp16_decode_refusal(const AttentionProblem& pr) { return refusal(pr); }

void attention_fp16_decode(const AttentionProblem& pr, const AttentionTensors& t, void* workspace,
                           cudaStream_t stream) {
  validate_problem(pr, t, "attention_fp16_decode", /*kv_lengths=*/true);
  if (pr.batch == 0 || pr.len_q == 0) return;
  if (const std::string why = refusal(pr); !why.empty())
    throw std::invalid_argument("attention_fp16_decode: this kernel does not take the problem (" + why +
                                "); use attention_fp16_forward");
  if (workspace == nullptr) throw std::invalid_argument("attention_fp16_decode: no workspace");
  const Split sp = split_of(pr);  // once per call: the launch uses the split the workspace was sized for
  const bool bf16 = pr.dtype == ElementType::kBFloat16;
  if (pr.head_dim == 64) {
    bf16 ? dispatch_causal<64, true>(pr, t, sp, workspace, stream)
         : dispatch_causal<64, false>(pr, t, sp, workspace, stream);
  } else {
    bf16 ? dispatch_causal<128, true>(pr, t, sp, workspace, stream)
         : dispatch_causal<128, false>(pr, t, sp, workspace, stream);
  }
}

}  // namespace sageval::kernels
