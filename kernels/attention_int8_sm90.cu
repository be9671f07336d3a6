// SageAttention-style attention over a quantized workspace (steps 4-7 of sage_int8_numerics.h) for Hopper:
// wgmma tensor-core products, TMA copies on mbarriers, a producer warpgroup and three consumer warpgroups.
//
// Algorithm. A CTA owns 192 query rows, 64 per consumer warpgroup (each warp reads the INT8 Q scale of its 16
// rows, which lie in one of the quantizer's 128-row Q blocks), of one (batch, head);
// grid (ceil(Nq / rows), Hq, B), the last rows first so that causal's longest rows start first.
//  - Producer (warpgroup 0, one thread, registers given back with setmaxnreg): TMA-loads Q once and then, per
//    128-key stage, the K tile (int8, from the workspace) and the V tile (fp16: the input through its strides, or
//    the workspace copy for bf16 input) into a kStages-deep ring; each load completes on its stage's "full"
//    mbarrier; the stage is refilled once every consumer has released it on its "empty" mbarrier.
//  - Consumers (warpgroups 1 to 3, 64 query rows each, one product after the other; while one runs its softmax the
//    others' products keep the tensor cores busy): per stage
//      S_int(64x128) = Q_int8 K_int8^T    wgmma m64n128k32 .s32.s8.s8, both operands in shared memory (exact)
//      per 64-key half (one INT8 K block, one K scale = numerics::kKeyTile): t = float(S_int) * (q_scale *
//      k_scale); masking (mask_scores); one base-2 online-softmax step over the stage (the row max over both
//      halves), P rounded to fp16
//      O(64xD) += P V                     wgmma m64nDk16 .f32.f16.f16, P from registers, V N-major in shared memory,
//                                         one 16-key step at a time as its exponentials are done
//    then release the stage. Epilogue as the sm80 kernel: O / l (x v_scale for bf16), LSE with the K-smoothing
//    correction.
//  Shared memory: 128-byte swizzle (64-byte for the 64-byte int8 rows of D = 64), written by TMA and read by
//  wgmma in the same canonical layouts (sm90_primitives.cuh, smem_descriptor).
// Rounding steps: identical to the sm80 kernel (attention_int8_sm80.cu); Q.K^T is exact and equals the CPU
// emulation's bit for bit.
//
// Counts per (batch, head): FLOPs = 4 * Nq * Nk * D (half INT8 Q.K^T, half FP16 P.V; about half with causal when
// Nq == Nk). Minimum bytes = Nq*D + Nk*D (int8 Q, K) + 2*Nk*D (V) + 2*Nq*D (out) (+ scales, LSE); K and V are read
// once per CTA (192 query rows; L2 serves the repeats).
// Shared memory: 192*D (Q) + kStages * (128*D (K) + 128*2*(D + 64) (V and a panel of ones)) = 216 KiB (D = 128)
// or 132 KiB (D = 64) with 3 stages, plus the barriers and 1 KiB of alignment slack.
#include <cuda.h>
#include <cuda_runtime.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "sageval/kernels/attention_kernels.h"
#include "sageval/kernels/cuda_check.h"
#include "flash_tile.cuh"
#include "sageval/kernels/sage_int8_numerics.h"
#include "sage_int8_paths.h"
#include "sm80_primitives.cuh"
#include "sm90_primitives.cuh"
#include "tensor_map.h"

namespace sageval::kernels {
namespace {

namespace nx = sageval::numerics;

constexpr int kBlockN = 128;  // keys per pipeline stage: two K blocks (two K scales)
constexpr int kStages = 3;
// Consumer warpgroups of 64 query rows each, three: the softmax, issued by the consumers, bounds the kernel, and a
// third warp per scheduler hides more of its latency (FlashAttention-3 tiles head dim 64 the same way, 192 x 128).
// Each of three consumers can have 160 registers: O (68 at D = 128 with the row sums) and one tile's S (64, whose
// registers then hold its scores and P), not a second S, so a consumer does not issue its next Q.K^T during its
// P.V.
constexpr int kConsumers = 3;
constexpr int kBlockM = 64 * kConsumers;  // query rows per CTA
constexpr int kThreads = 128 * (1 + kConsumers);
// Registers per thread after setmaxnreg: the producer gives back down to kProducerRegisters, the consumers take the
// most that frees (multiples of 8). The CTA holds what its launch gave it, kThreads times the per-thread count
// ptxas may use under __launch_bounds__ (65536 / kThreads rounded down to 8: 128 at 512 threads), and
// setmaxnreg.inc blocks until the registers it asks for are free, so the two must fit in that.
constexpr int kProducerRegisters = 24;
constexpr int kConsumerRegisters = 160;
static_assert(128 * kProducerRegisters + 128 * kConsumers * kConsumerRegisters <= kThreads * (65536 / kThreads / 8 * 8),
              "the warpgroups' registers after setmaxnreg fit the CTA's");
[[maybe_unused]] constexpr int kScoreBlocks = kBlockN / 8;  // 8-key column blocks of a stage's scores (accumulator layout)
static_assert(nx::kKBlockRows == 64 && nx::kKeyTile == 64 && kBlockN == 2 * nx::kKBlockRows,
              "a stage is two K blocks, each with its own K scale (dq[0], dq[1] in the softmax)");

// V panels per stage: D / 64 panels of [kBlockN keys][64 dims] (128-byte swizzled, brought by TMA), then one
// panel whose first 8 columns are ones (written once by the consumers): the P.V product's last 8 columns are the
// row sums of P.
template <int D>
constexpr int kVPanels = D / 64 + 1;

template <int D>
struct SharedStorage {
  int8_t q[kBlockM * D];
  int8_t k[kStages][kBlockN * D];
  uint16_t v[kStages][kVPanels<D> * kBlockN * 64];
  uint64_t q_full;
  uint64_t k_full[kStages], v_full[kStages], empty[kStages];
};

struct Sm90Params {
  CUtensorMap q_map;  // int8 {D, Nq_padded, B*Hq}
  CUtensorMap k_map;  // int8 {D, Nk_padded, B*Hkv}
  CUtensorMap v_map;  // fp16 {D, Nk, Hkv, B}, box {64, kBlockN, 1, 1}
  char* out;
  Strides4 os;  // bytes
  float* lse;
  const float* q_scale;
  const float* k_scale;
  const float* q_dot_mean;
  const float* v_scale;  // null for fp16 input
  int heads_q, group, len_q, len_k, len_q_padded, k_blocks;
  float sm_scale;
};

template <int D>
constexpr int smem_bytes() {
  return static_cast<int>(sizeof(SharedStorage<D>)) + 1024;  // slack to align the start to 1024 bytes
}
static_assert(smem_bytes<64>() <= 232448 && smem_bytes<128>() <= 232448,
              "a CTA's shared memory within the 227 KiB a Hopper CTA may opt in to");

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
// Descriptors of the three operands. Q and K: K-major int8 rows of D bytes (D = 128: 128-byte swizzle, 8-row
// groups 1024 bytes apart; D = 64: 64-byte swizzle, 512 bytes). V: N-major fp16, 64-dim panels kBlockN * 128 bytes
// apart, 8-key groups 1024 bytes apart.
template <int D>
__device__ __forceinline__ uint64_t int8_operand(uint32_t address) {
  if constexpr (D == 128) return sm90::smem_descriptor(address, 16, 1024, sm90::Swizzle::k128B);
  else return sm90::smem_descriptor(address, 16, 512, sm90::Swizzle::k64B);
}
__device__ __forceinline__ uint64_t v_operand(uint32_t address) {
  return sm90::smem_descriptor(address, kBlockN * 128, 1024, sm90::Swizzle::k128B);
}

// Writes the ones of every stage's last V panel: column 0-7 of key row r are its first 16-byte chunk, which the
// 128-byte swizzle places at chunk (0 ^ r % 8). Run by the consumer threads before their first P.V.
template <int D>
__device__ __forceinline__ void write_ones_panels(SharedStorage<D>& sm, int consumer_thread) {
  constexpr uint32_t kOnes = 0x3C003C00u;  // two fp16 1.0
  for (int i = consumer_thread; i < kStages * kBlockN; i += 128 * kConsumers) {
    const int stage = i / kBlockN, r = i % kBlockN;
    uint4* chunk = reinterpret_cast<uint4*>(sm.v[stage] + (D / 64) * kBlockN * 64 + r * 64 + (r % 8) * 8);
    *chunk = make_uint4(kOnes, kOnes, kOnes, kOnes);
  }
}

// float(S_int) without the quarter-rate I2F: for |s| < 2^22 (|S_int| <= 127 * 127 * D < 2^21 here) the bits
// 0x4B400000 + s are exactly the float 1.5 * 2^23 + s, and subtracting 1.5 * 2^23 is exact.
__device__ __forceinline__ float int_to_float_exact(int32_t s) { return __int_as_float(0x4B400000 + s) - 12582912.0f; }

// exp2 on the SFU, denormal results flushed to zero (PTX ISA 9.7.3.x, ex2.approx.ftz.f32). P is rounded to fp16
// right after, whose smallest subnormal (2^-24) is far above the flushed range, so P is unchanged by the flush.
__device__ __forceinline__ float exp2_ftz(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// The running max update shared by both softmax steps: mx holds this lane's part of the tile's row maxima (base-2
// units) of rows g and g + 8; after it, m = max(m, row max) over the quad, alpha = exp2(m_old - m) (for the caller
// to rescale O and the row sums once no P.V is in flight) and nbase = -m. A row with no visible key yet keeps
// m = -inf (P = 0, alpha = 0), as flash_tile.cuh's online_softmax_tile.
__device__ __forceinline__ void update_max(float (&mx)[2], float (&m)[2], float (&alpha)[2], float (&nbase)[2]) {
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 1));
    mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 2));
    mx[i] = fmaxf(m[i], mx[i]);
    const bool none = mx[i] == -INFINITY;
    alpha[i] = none ? 0.0f : exp2_ftz(m[i] - mx[i]);
    nbase[i] = none ? 0.0f : -mx[i];
    m[i] = mx[i];
  }
}

// Max of this lane's values of row i (elements 2i, 2i+1 of each 8-column block) over the 8 blocks of half `half`,
// as a tree rather than a chain of dependent max instructions.
template <typename T>
__device__ __forceinline__ T half_row_max(const T (&v)[kScoreBlocks * 4], int i, int half) {
  constexpr int kHalf = kScoreBlocks / 2;
  T r[kHalf];
#pragma unroll
  for (int nb = 0; nb < kHalf; ++nb) r[nb] = max(v[(half * kHalf + nb) * 4 + 2 * i], v[(half * kHalf + nb) * 4 + 2 * i + 1]);
#pragma unroll
  for (int w = kHalf / 2; w > 0; w /= 2)
#pragma unroll
    for (int nb = 0; nb < w; ++nb) r[nb] = max(r[nb], r[nb + w]);
  return r[0];
}

// The max half of a base-2 online-softmax step over a stage whose scores may be masked (the exponentials follow,
// see `exponentials`). t holds float(S_int) of this lane's part of rows g and g + 8 (accumulator layout), -inf
// where masked; dq[h] is the dequantization factor of half h (one K block each). The score is S_int * dq (base-2
// units, numerics step 5); m' = max(m, rowmax(t * dq)) (the rounded multiply is monotone, so the max of the
// products is the product of the max, one multiply per row).
__device__ __forceinline__ void softmax_max(float (&t)[kScoreBlocks][4], const float (&dq)[2], float (&m)[2],
                                            float (&alpha)[2], float (&nbase)[2]) {
  const auto& flat = reinterpret_cast<const float(&)[kScoreBlocks * 4]>(t);
  float mx[2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
    mx[i] = fmaxf(__fmul_rn(half_row_max(flat, i, 0), dq[0]), __fmul_rn(half_row_max(flat, i, 1), dq[1]));
  update_max(mx, m, alpha, nbase);
}

// The same for a stage with no masked score, straight from the INT32 accumulator: the row maxima are taken over
// the integers (float(S_int) is exact and monotone, so m' is the same float as softmax_max's) while the
// conversions into t, independent of them, proceed. (Folding the
// conversion's 1.5 * 2^23 offset into the FMA's addend saves an instruction per score but rounds that addend by
// up to 0.75 * dq: measured on the H200, it broke the kernel-vs-emulation agreement on outlier inputs.)
__device__ __forceinline__ void softmax_max_unmasked(const int32_t (&s)[kScoreBlocks * 4], float (&t)[kScoreBlocks][4],
                                                     const float (&dq)[2], float (&m)[2], float (&alpha)[2],
                                                     float (&nbase)[2]) {
  float mx[2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
    mx[i] = fmaxf(__fmul_rn(int_to_float_exact(half_row_max(s, i, 0)), dq[0]),
                  __fmul_rn(int_to_float_exact(half_row_max(s, i, 1)), dq[1]));
#pragma unroll
  for (int nb = 0; nb < kScoreBlocks; ++nb)
#pragma unroll
    for (int e = 0; e < 4; ++e) t[nb][e] = int_to_float_exact(s[nb * 4 + e]);
  update_max(mx, m, alpha, nbase);
}

// P = exp2(t * dq - m') of the 8-column blocks [kFirst, kFirst + kCount), in place: one fused multiply-add and
// one SFU exponential per score (the emulation rounds t * dq first: a rounding-level difference); t then holds P
// in fp32, rounded to fp16 when packed.
template <int kFirst, int kCount>
__device__ __forceinline__ void exponentials(float (&t)[kScoreBlocks][4], const float (&dq)[2], const float (&nbase)[2]) {
#pragma unroll
  for (int nb = kFirst; nb < kFirst + kCount; ++nb)
#pragma unroll
    for (int e = 0; e < 4; ++e) t[nb][e] = exp2_ftz(fmaf(t[nb][e], dq[nb / (kScoreBlocks / 2)], nbase[e / 2]));
}

// -inf for the scores of keys >= len_k and, causal, of keys > row + diag (flash_tile.cuh's mask_tile, the same
// keys), over a whole stage of kBlockN keys from key0; row is this lane's row g (g + 8 is the other). Each row's
// last visible key becomes a column bound once, so that each score costs one compare with a constant: fewer
// registers than mask_tile's per-score key arithmetic, which made ptxas spill in the causal D = 128 kernels.
template <bool kCausal>
__device__ __forceinline__ void mask_scores(float (&t)[kScoreBlocks][4], int key0, int len_k, int row, int diag, int lane) {
  int last[2];  // the last visible column (within the stage, minus this lane's column offset) of rows g, g + 8
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int last_key = kCausal ? min(len_k - 1, row + 8 * i + diag) : len_k - 1;
    last[i] = last_key - key0 - 2 * (lane & 3);
  }
#pragma unroll
  for (int nb = 0; nb < kScoreBlocks; ++nb)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      if (nb * 8 + (e & 1) > last[e / 2]) t[nb][e] = -INFINITY;
}

// f(std::integral_constant<int, I>) for I = kFirst .. kEnd - 1, in order.
template <int kFirst, int kEnd, typename F>
__device__ __forceinline__ void static_for(F&& f) {
  if constexpr (kFirst < kEnd) {
    f(std::integral_constant<int, kFirst>{});
    static_for<kFirst + 1, kEnd>(f);
  }
}

// P of blocks nb and nb + 1 (16 keys) rounded to fp16 and packed into the A fragment of one P.V step.
__device__ __forceinline__ void pack_p(const float (&t)[kScoreBlocks][4], int nb, uint32_t (&a)[4]) {
  a[0] = sm80::pack2<false>(t[nb][0], t[nb][1]);
  a[1] = sm80::pack2<false>(t[nb][2], t[nb][3]);
  a[2] = sm80::pack2<false>(t[nb + 1][0], t[nb + 1][1]);
  a[3] = sm80::pack2<false>(t[nb + 1][2], t[nb + 1][3]);
}
#endif

template <int D, bool kBf16, bool kCausal>
__global__ void __launch_bounds__(kThreads, 1) attention_int8_sm90_kernel(const __grid_constant__ Sm90Params p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ char smem_raw[];
  const uint32_t raw = sm80::smem_u32(smem_raw);
  auto& sm = *reinterpret_cast<SharedStorage<D>*>(smem_raw + ((1024 - (raw & 1023)) & 1023));

  const int qblock = gridDim.x - 1 - blockIdx.x;
  const int h = blockIdx.y;
  const int b = blockIdx.z;
  const int hk = h / p.group;
  const int heads_kv = p.heads_q / p.group;
  const int m0 = qblock * kBlockM;
  const int diag = p.len_k - p.len_q;
  const int bhq = b * p.heads_q + h;
  const int bhk = b * heads_kv + hk;
  int n_keys = p.len_k;
  if (kCausal) n_keys = min(n_keys, m0 + kBlockM + diag);
  const int n_tiles = n_keys > 0 ? (n_keys + kBlockN - 1) / kBlockN : 0;
  // Through a shuffle from lane 0 so that ptxas knows it is the same in every lane of a warp: what derives from
  // it (the consumer's rows, tile count, loop bounds, the descriptors) can then live in uniform registers.
  const int warpgroup = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x) / 128, 0);
  const float* k_scale = p.k_scale + static_cast<int64_t>(bhk) * p.k_blocks;

  if (threadIdx.x == 0) {
    sm90::mbarrier_init(&sm.q_full, 1);
    for (int s = 0; s < kStages; ++s) {
      sm90::mbarrier_init(&sm.k_full[s], 1);
      sm90::mbarrier_init(&sm.v_full[s], 1);
      sm90::mbarrier_init(&sm.empty[s], 4 * kConsumers);  // one arrival per consumer warp
    }
    sm90::fence_mbarrier_init();
  }
  __syncthreads();

  if (warpgroup == 0) {  // producer
    sm90::setmaxnreg_dec<kProducerRegisters>();
    if (threadIdx.x == 0 && n_tiles > 0) {
      sm90::mbarrier_arrive_expect_tx(&sm.q_full, kBlockM * D);
      sm90::tma_load_3d(sm.q, &p.q_map, &sm.q_full, 0, m0, bhq);
      for (int j = 0; j < n_tiles; ++j) {
        const int s = j % kStages;
        if (j >= kStages) sm90::mbarrier_wait(&sm.empty[s], ((j / kStages) & 1) ^ 1);
        sm90::mbarrier_arrive_expect_tx(&sm.k_full[s], kBlockN * D);
        sm90::tma_load_3d(sm.k[s], &p.k_map, &sm.k_full[s], 0, j * kBlockN, bhk);
        sm90::mbarrier_arrive_expect_tx(&sm.v_full[s], kBlockN * D * 2);
#pragma unroll
        for (int panel = 0; panel < D / 64; ++panel)  // the ones panel after them is not loaded
          sm90::tma_load_4d(sm.v[s] + panel * kBlockN * 64, &p.v_map, &sm.v_full[s], panel * 64, j * kBlockN, hk, b);
      }
    }
    return;
  }

  sm90::setmaxnreg_inc<kConsumerRegisters>();
  const int consumer = warpgroup - 1;
  const int warp = (threadIdx.x / 32) % 4;
  const int lane = threadIdx.x % 32;
  const int row_first = m0 + consumer * 64;  // this warpgroup's rows
  const int wrow0 = row_first + warp * 16;   // this warp's 16 rows
  // Its rows' INT8 Q scale. A CTA of 192 rows may reach past the workspace's rows (a multiple of 128): such a
  // warp's Q rows are TMA's zero fill, its results are not stored, and it reads no scale.
  const bool rows_in_workspace = wrow0 < p.len_q_padded;
  const float q_scale =
      rows_in_workspace ? p.q_scale[nx::q_scale_slot(static_cast<int64_t>(bhq) * p.len_q_padded + wrow0)] : 0.0f;
  const uint32_t q_address = sm80::smem_u32(sm.q) + consumer * 64 * D;
  constexpr int kOnesWritten = 1;  // named barrier: the ones panels are written

  // O (D columns) and, in the 8 columns after it, the row sums l of P (o[D / 8][0] for row g, [2] for g + 8).
  float o[D / 8 + 1][4];
#pragma unroll
  for (int i = 0; i < D / 8 + 1; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  float(&acc)[D / 2 + 4] = reinterpret_cast<float(&)[D / 2 + 4]>(o);
  float m[2] = {-INFINITY, -INFINITY}, alpha[2];
  int32_t sacc[64];

  // The operands' descriptors, built once: a stage, k-step or 16-key step is an offset (descriptor_plus).
  const uint64_t q_desc = int8_operand<D>(q_address);
  const uint64_t k_desc = int8_operand<D>(sm80::smem_u32(sm.k[0]));
  const uint64_t v_desc = v_operand(sm80::smem_u32(sm.v[0]));
  auto issue_qk = [&](int stage) {
    const uint64_t k_stage = sm90::descriptor_plus(k_desc, stage * static_cast<uint32_t>(sizeof(sm.k[0])));
    sm90::wgmma_m64n128k32_s8_first(sacc, q_desc, k_stage);
#pragma unroll
    for (int ks = 1; ks < D / 32; ++ks)
      sm90::wgmma_m64n128k32_s8(sacc, sm90::descriptor_plus(q_desc, ks * 32), sm90::descriptor_plus(k_stage, ks * 32), true);
  };
  // P.V over the stage's keys 16 * kk to 16 * kk + 15, that step's P (the A fragment) from registers.
  auto issue_pv_step = [&](int stage, int kk, const uint32_t (&a)[4]) {
    const uint64_t desc =
        sm90::descriptor_plus(v_desc, stage * static_cast<uint32_t>(sizeof(sm.v[0])) + kk * 16 * 128);
    if constexpr (D == 128) sm90::wgmma_m64n136k16_f16_rs_nmajor(acc, a, desc);
    else sm90::wgmma_m64n72k16_f16_rs_nmajor(acc, a, desc);
  };
  float t[kScoreBlocks][4];  // scores, then P, of the tile in the softmax
  // The K scales of tile j (two K blocks), loaded before the waits for its stage so that their latency hides there.
  auto k_scales = [&](int j, float (&ks)[2]) {
    ks[0] = k_scale[min(2 * j, p.k_blocks - 1)];  // a half past the last K block is fully masked
    ks[1] = k_scale[min(2 * j + 1, p.k_blocks - 1)];
  };
  // Scores of tile j into t (base-2 units once multiplied by dq), masked when `mask` (only the tiles from
  // `first_masked` on pay for it), and the running max step (m, alpha, nbase), before any exponential.
  auto scores_max = [&](int j, const float (&dq)[2], auto mask, float (&nbase)[2]) {
    if constexpr (decltype(mask)::value) {
#pragma unroll
      for (int nb = 0; nb < kScoreBlocks; ++nb)
#pragma unroll
        for (int e = 0; e < 4; ++e) t[nb][e] = int_to_float_exact(sacc[nb * 4 + e]);
      mask_scores<kCausal>(t, j * kBlockN, p.len_k, wrow0 + (lane >> 2), diag, lane);
      softmax_max(t, dq, m, alpha, nbase);
    } else {
      softmax_max_unmasked(sacc, t, dq, m, alpha, nbase);
    }
  };
  // Tiles from `first_masked` on have keys past len_k or, causal, past some row's diagonal in this warpgroup.
  int first_masked = p.len_k / kBlockN;
  if (kCausal) {
    const int unmasked_last_key = row_first + diag;  // the first row sees keys up to here
    first_masked = min(first_masked, unmasked_last_key < kBlockN - 1 ? 0 : (unmasked_last_key - (kBlockN - 1)) / kBlockN + 1);
  }

  // The tiles this warpgroup computes: none when its rows are all past len_q (padding of the last CTA) and, causal,
  // none past its last row's diagonal (with 192-row CTAs a warpgroup's rows end up to 128 keys before the CTA's
  // last tile). It still releases every later stage after its last tile, so the producer's ring runs as if it
  // computed them.
  int my_tiles = row_first >= p.len_q ? 0 : n_tiles;
  if (kCausal) my_tiles = min(my_tiles, max(0, (row_first + 64 + diag + kBlockN - 1) / kBlockN));

  write_ones_panels(sm, threadIdx.x - 128);
  sm90::fence_proxy_async_shared();  // ordinary stores, read next by the tensor cores
  sm90::named_barrier_sync(kOnesWritten, 128 * kConsumers);  // every consumer's ones are written
  // Rescales O and its row sums by alpha once no P.V that accumulates into them is in flight. Once a row's max
  // settles, alpha is 1 tile after tile: skipped when it is 1 for all the warp's rows.
  auto rescale_o = [&] {
    if (__any_sync(0xffffffffu, alpha[0] != 1.0f || alpha[1] != 1.0f)) {
#pragma unroll
      for (int db = 0; db < D / 8 + 1; ++db) {
        o[db][0] *= alpha[0];
        o[db][1] *= alpha[0];
        o[db][2] *= alpha[1];
        o[db][3] *= alpha[1];
      }
    }
  };
  // One tile at a time: Q.K^T, the softmax, P.V (P in registers while S is free), then the stage is released.
  // The consumers take no turns: each issues when ready and the tensor cores serve them in order, one consumer's
  // softmax running while the others' products do. P.V goes one 16-key step at a time, each step issued as soon as
  // its P is packed, so that it runs while the next step's exponentials do (O is rescaled before the first step,
  // the max being the whole stage's; no register of a product in flight is written, so ptxas need not serialise:
  // it says so with a C7510-C7515 line when it must, and prints none for this kernel).
  // Measured on the H200 against one P.V per stage: 8-16% faster at D = 128 (2 and 4 parts gained less), and this
  // path beat the turns with Q.K^T(j) overlapping P.V(j - 1) at D = 64 by 4-14% (scripts/device/NOTES.md).
  if (my_tiles > 0) sm90::mbarrier_wait(&sm.q_full, 0);
  auto tile = [&](int j, auto mask) {
    const int s = j % kStages;
    float ks[2], nbase[2];
    k_scales(j, ks);
    sm90::mbarrier_wait(&sm.k_full[s], (j / kStages) & 1);
    sm90::wgmma_fence();
    issue_qk(s);
    sm90::wgmma_commit();
    sm90::wgmma_wait<0>();
    sm90::fence_operands(sacc);
    const float dq[2] = {nx::dequant_scale(q_scale, ks[0]), nx::dequant_scale(q_scale, ks[1])};
    scores_max(j, dq, mask, nbase);
    rescale_o();
    sm90::fence_operands(acc);
    sm90::mbarrier_wait(&sm.v_full[s], (j / kStages) & 1);
    static_for<0, kBlockN / 16>([&](auto step) {
      constexpr int kk = decltype(step)::value;
      exponentials<2 * kk, 2>(t, dq, nbase);
      uint32_t a[4];  // P of keys 16 * kk to 16 * kk + 15, fp16 pairs in the A fragment's order
      pack_p(t, 2 * kk, a);
      sm90::fence_operands(a);
      sm90::wgmma_fence();
      issue_pv_step(s, kk, a);
      sm90::wgmma_commit();
    });
    sm90::wgmma_wait<0>();
    sm90::fence_operands(acc);
    __syncwarp();  // every lane's reads of the stage happen before lane 0 releases it
    if (lane == 0) sm90::mbarrier_arrive(&sm.empty[s]);
  };
  for (int j = 0; j < my_tiles; ++j) {
    if (j < first_masked) tile(j, std::false_type{});
    else tile(j, std::true_type{});
  }
  // The stages after this warpgroup's last tile: released once filled (the full barrier is then in that tile's
  // phase, so the arrival counts for that tile's release).
  for (int j = my_tiles; j < n_tiles; ++j) {
    sm90::mbarrier_wait(&sm.k_full[j % kStages], (j / kStages) & 1);
    if (lane == 0) sm90::mbarrier_arrive(&sm.empty[j % kStages]);
  }

  char* og = p.out + b * p.os.batch + h * p.os.head;
  float* lse = p.lse != nullptr ? p.lse + static_cast<int64_t>(bhq) * p.len_q : nullptr;
  const float out_factor = kBf16 ? p.v_scale[bhk] : 1.0f;
  float add[2] = {0.0f, 0.0f};
  if (lse != nullptr && rows_in_workspace) {  // q_dot_mean is stored for all padded rows (0 past len_q)
    const int64_t row_base = static_cast<int64_t>(bhq) * p.len_q_padded + wrow0 + (lane >> 2);
    add[0] = p.sm_scale * p.q_dot_mean[row_base];
    add[1] = p.sm_scale * p.q_dot_mean[row_base + 8];
  }
  float l[2] = {o[D / 8][0], o[D / 8][2]};  // complete row sums (every lane holds its rows' sums)
  sm80::store_output<kBf16, D, /*kRowSumsPartial=*/false>(reinterpret_cast<float(&)[D / 8][4]>(o), m, l, out_factor,
                                                          og, p.os.token, lse, add, wrow0, p.len_q, lane);
#endif
}

template <int D, bool kBf16, bool kCausal>
void launch(const AttentionProblem& pr, const AttentionTensors& t, const SageInt8Workspace& ws, cudaStream_t stream) {
  auto kernel = attention_int8_sm90_kernel<D, kBf16, kCausal>;
  constexpr int smem = smem_bytes<D>();
  SAGEVAL_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  const SageInt8WorkspaceLayout lay = sage_int8_workspace_layout(pr);
  const auto u64 = [](int64_t x) { return static_cast<uint64_t>(x); };
  const CUtensorMapSwizzle int8_swizzle = D == 128 ? CU_TENSOR_MAP_SWIZZLE_128B : CU_TENSOR_MAP_SWIZZLE_64B;
  Sm90Params p{};
  p.q_map = make_tensor_map("the INT8 Q", CU_TENSOR_MAP_DATA_TYPE_UINT8, ws.q_int8,
                            {D, u64(lay.len_q_padded), u64(int64_t{pr.batch} * pr.heads_q)},
                            {D, u64(int64_t{lay.len_q_padded} * D)}, {D, kBlockM, 1}, int8_swizzle);
  p.k_map = make_tensor_map("the INT8 K", CU_TENSOR_MAP_DATA_TYPE_UINT8, ws.k_int8,
                            {D, u64(lay.len_k_padded), u64(int64_t{pr.batch} * pr.heads_kv)},
                            {D, u64(int64_t{lay.len_k_padded} * D)}, {D, kBlockN, 1}, int8_swizzle);
  const void* v = t.v;
  Strides4 vs{t.v_strides.batch * 2, t.v_strides.head * 2, t.v_strides.token * 2};
  if (kBf16) {
    if (ws.v_fp16 == nullptr || ws.v_scale == nullptr)
      throw std::runtime_error("sage_int8_attention (sm90): bf16 input needs the workspace's v_fp16 and v_scale");
    v = ws.v_fp16;
    const int64_t nk = pr.len_k;
    vs = Strides4{int64_t{pr.heads_kv} * nk * D * 2, nk * D * 2, D * 2};
  }
  // A dimension of extent 1 is never stepped; give it a legal stride whatever the view says. (Zero strides of
  // larger extents, a broadcast V, never reach here: sage_int8_sm90_takes sends them to the sm80 path.)
  const auto stride_or = [](int64_t stride, int extent, int64_t fallback) {
    return static_cast<uint64_t>(extent == 1 ? fallback : stride);
  };
  const uint64_t v_token = stride_or(vs.token, pr.len_k, D * 2);
  const uint64_t v_head = stride_or(vs.head, pr.heads_kv, v_token * pr.len_k);
  const uint64_t v_batch = stride_or(vs.batch, pr.batch, v_head * pr.heads_kv);
  p.v_map = make_tensor_map("V", CU_TENSOR_MAP_DATA_TYPE_FLOAT16, v,
                            {D, u64(pr.len_k), u64(pr.heads_kv), u64(pr.batch)}, {v_token, v_head, v_batch},
                            {64, kBlockN, 1, 1}, CU_TENSOR_MAP_SWIZZLE_128B);
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
  p.k_blocks = lay.k_blocks;
  p.sm_scale = pr.sm_scale;
  const dim3 grid((pr.len_q + kBlockM - 1) / kBlockM, pr.heads_q, pr.batch);
  kernel<<<grid, kThreads, smem, stream>>>(p);
  SAGEVAL_CUDA_CHECK_LAUNCH();
}

template <int D>
void dispatch(const AttentionProblem& pr, const AttentionTensors& t, const SageInt8Workspace& ws, cudaStream_t stream) {
  const bool bf16 = pr.dtype == ElementType::kBFloat16;
  if (bf16) {
    pr.causal ? launch<D, true, true>(pr, t, ws, stream) : launch<D, true, false>(pr, t, ws, stream);
  } else {
    pr.causal ? launch<D, false, true>(pr, t, ws, stream) : launch<D, false, false>(pr, t, ws, stream);
  }
}

}  // namespace

std::string sage_int8_sm90_unavailable() {
  int device = 0, major = 0, minor = 0;
  SAGEVAL_CUDA_CHECK(cudaGetDevice(&device));
  SAGEVAL_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  SAGEVAL_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
  if (major != 9 || minor != 0)
    return "the sm90 path needs a compute capability 9.0 device, this one is " + std::to_string(major) + "." +
           std::to_string(minor);
  // Without a 90a image the device would run another architecture's empty kernel body.
  cudaFuncAttributes attributes{};
  SAGEVAL_CUDA_CHECK(cudaFuncGetAttributes(&attributes, attention_int8_sm90_kernel<128, false, false>));
  if (attributes.binaryVersion != 90)
    return "this build has no sm_90a code (CMAKE_CUDA_ARCHITECTURES lacks 90a; the device would run sm_" +
           std::to_string(attributes.binaryVersion) + " code)";
  return {};
}

bool sage_int8_sm90_takes(const AttentionProblem& p, const AttentionTensors& t) {
  if (p.dtype == ElementType::kBFloat16) return true;  // V then comes from the dense workspace copy
  const Strides4& s = t.v_strides;  // elements
  const auto ok = [](int64_t stride, int extent) { return extent == 1 || stride > 0; };
  return ok(s.token, p.len_k) && ok(s.head, p.heads_kv) && ok(s.batch, p.batch);
}

void sage_int8_attention_sm90(const AttentionProblem& problem, const AttentionTensors& tensors,
                              const SageInt8Workspace& workspace, cudaStream_t stream) {
  if (problem.head_dim == 64) {
    dispatch<64>(problem, tensors, workspace, stream);
  } else {
    dispatch<128>(problem, tensors, workspace, stream);
  }
}

}  // namespace sageval::kernels
