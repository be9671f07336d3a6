// INT8 quantization of the sage_int8 path (steps 1-3 of sage_int8_numerics.h) and the bf16 V -> FP16 copy.
//
// Algorithm, four launches on the caller's stream in three passes (QuantizationPass: 1-2 kKMean, 3 kKInt8, 4 kQInt8):
//  1. kv_stats: grid (kv_splits, B*Hkv). Each CTA sums K over its token range in double (8 dims per thread,
//     16-byte loads, several in flight), reduces its threads in a fixed order and writes one partial sum per dim;
//     for bf16 input it also takes max|V| over the range.
//  2. kv_finalize: per (b, kv head) sums the partials in split order (double), mean = (float)(sum / Nk); for bf16
//     V the exponent e (numerics::fp16_v_exponent) and v_scale = 2^e.
//  3. k_quant: one CTA per 64-token K block: ks = k - mean (one float subtraction), amax, scale =
//     int8_block_scale(amax), quantize_int8's value (IEEE division, roundf; computed without either where the
//     scale allows: quantize_chunk in int8_chunk.cuh); padding rows (>= Nk) are written as 0.
//     For bf16 input the same CTA converts the block's V rows: fp16(v * 2^-e) (exact scaling, one rounding).
//  4. q_quant: one CTA per 128-token Q block, each warp 16 consecutive rows: x = q * (sm_scale*log2 e) (one float
//     multiply), amax over the block (per-block granularity: a CTA reduction) or over the warp's rows (per-warp:
//     a warp reduction), scale, quantize_int8; padding rows are 0. Every warp writes the scale of its 16 rows
//     (the workspace's one layout for both granularities). Also q . k_mean per row (for the LSE correction of
//     the smoothing).
// Launches 2-4 are programmatic dependent launches (programmatic_launch.cuh) where a kernel of the same call ran
// just before them: each loads what no earlier launch writes (K, Q) first and waits for its predecessor before
// reading the mean or the partial sums. The call's first kernel is an ordinary launch, so whatever wrote Q, K and V
// before the call has finished; a pass run alone (sage_int8_quantize_pass) starts with an ordinary launch too.
// All INT8 values and scales come from the shared inline functions, so they equal the CPU emulation's bit for bit
// (the mean in double is summed in a different order, which can change the float mean only in rare ties).
//
// Bytes per call (B*Hq*Nq = nq elements, B*Hkv*Nk = nk elements, 2-byte inputs):
//   reads 2*nq (Q) + 2*2*nk (K twice: stats and quantization) [+ 2*2*nk for bf16 V: amax and conversion],
//   writes nq + nk int8 [+ 2*nk fp16 V], plus scales/means (negligible). FLOPs are negligible (~10 per element).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>

#include "sageval/kernels/attention_kernels.h"
#include "sageval/kernels/cuda_check.h"
#include "block_reduce.cuh"
#include "int8_chunk.cuh"
#include "programmatic_launch.cuh"
#include "sageval/kernels/sage_int8_numerics.h"

namespace sageval::kernels {
namespace {

namespace nx = sageval::numerics;

constexpr int kStatsThreads = 256;
constexpr int kKQuantThreads = 128;
constexpr int kQQuantThreads = 256;

template <bool kBf16>
__device__ __forceinline__ void to_float8(const uint4& u, float (&f)[8]) {
  const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    float2 v;
    if constexpr (kBf16) {
      v = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&w[i]));
    } else {
      v = __half22float2(*reinterpret_cast<const __half2*>(&w[i]));
    }
    f[2 * i] = v.x;
    f[2 * i + 1] = v.y;
  }
}

struct QkvPointers {
  const char* q;
  const char* k;
  const char* v;
  Strides4 qs, ks, vs;  // bytes
};

// ---- 1. partial sums of K (double) and partial max|V| over token ranges ----
template <int D, bool kBf16>
__global__ void __launch_bounds__(kStatsThreads) kv_stats_kernel(QkvPointers in, SageInt8Workspace ws, int heads_kv,
                                                                 int len_k, int splits, int rows_per_split,
                                                                 bool want_v) {
  constexpr int kCpr = D / 8;                  // 16-byte chunks per row
  constexpr int kRp = kStatsThreads / kCpr;    // rows per pass
  constexpr int kUnroll = 4;
  __shared__ double red[kRp][D];
  __shared__ float vred[kStatsThreads / 32];
  let_dependents_launch();  // the finalize kernel's CTAs may take their places now (they wait for this grid)
  const int split = blockIdx.x;
  const int bh = blockIdx.y;
  const int b = bh / heads_kv, hk = bh % heads_kv;
  const int c = threadIdx.x % kCpr;
  const int r = threadIdx.x / kCpr;
  const int row_begin = split * rows_per_split;
  const int row_end = min(len_k, row_begin + rows_per_split);
  const char* kb = in.k + b * in.ks.batch + hk * in.ks.head + c * 16;
  const char* vb = in.v + b * in.vs.batch + hk * in.vs.head + c * 16;
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  float vmax = 0.0f;
  for (int row = row_begin + r; row < row_end; row += kRp * kUnroll) {
    uint4 ku[kUnroll], vu[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int rr = row + u * kRp;
      if (rr < row_end) {
        ku[u] = *reinterpret_cast<const uint4*>(kb + rr * in.ks.token);
        if (kBf16 && want_v) vu[u] = *reinterpret_cast<const uint4*>(vb + rr * in.vs.token);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      if (row + u * kRp < row_end) {
        float f[8];
        to_float8<kBf16>(ku[u], f);
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[i] += static_cast<double>(f[i]);
        if (kBf16 && want_v) {
          to_float8<kBf16>(vu[u], f);
#pragma unroll
          for (int i = 0; i < 8; ++i) vmax = fmaxf(vmax, fabsf(f[i]));
        }
      }
    }
  }
#pragma unroll
  for (int i = 0; i < 8; ++i) red[r][c * 8 + i] = acc[i];
  if (kBf16 && want_v) vmax = block_reduce<kStatsThreads>(vmax, vred, MaxOp{});
  __syncthreads();
  if (threadIdx.x < D) {
    double s = 0.0;
    for (int i = 0; i < kRp; ++i) s += red[i][threadIdx.x];
    ws.k_sum_partial[(static_cast<int64_t>(bh) * splits + split) * D + threadIdx.x] = s;
  }
  if (kBf16 && want_v && threadIdx.x == 0) ws.v_amax_partial[static_cast<int64_t>(bh) * splits + split] = vmax;
}

// ---- 2. mean over tokens, V exponent ----
template <int D>
__global__ void __launch_bounds__(D) kv_finalize_kernel(SageInt8Workspace ws, int len_k, int splits, bool want_v) {
  let_dependents_launch();  // the K pass's CTAs may start loading K (they wait for the mean)
  wait_for_prerequisite_grid();  // the partial sums are complete
  const int bh = blockIdx.x;
  const int d = threadIdx.x;
  double s = 0.0;
  for (int i = 0; i < splits; ++i) s += ws.k_sum_partial[(static_cast<int64_t>(bh) * splits + i) * D + d];
  ws.k_mean[static_cast<int64_t>(bh) * D + d] = len_k > 0 ? static_cast<float>(s / static_cast<double>(len_k)) : 0.0f;
  if (want_v && d == 0) {
    float amax = 0.0f;
    for (int i = 0; i < splits; ++i) amax = fmaxf(amax, ws.v_amax_partial[static_cast<int64_t>(bh) * splits + i]);
    ws.v_scale[bh] = ldexpf(1.0f, nx::fp16_v_exponent(amax));
  }
}

// ---- 3. K blocks (smoothing + INT8) and the bf16 V -> FP16 copy ----
template <int D, bool kBf16>
__global__ void __launch_bounds__(kKQuantThreads) k_quant_kernel(QkvPointers in, SageInt8Workspace ws, int heads_kv,
                                                                 int len_k, int len_k_padded, int k_blocks,
                                                                 bool want_v) {
  constexpr int kCpr = D / 8;
  constexpr int kRp = kKQuantThreads / kCpr;
  constexpr int kPasses = nx::kKBlockRows / kRp;
  __shared__ float red[kKQuantThreads / 32];
  const int kblock = blockIdx.x;
  const int bh = blockIdx.y;
  const int b = bh / heads_kv, hk = bh % heads_kv;
  const int c = threadIdx.x % kCpr;
  const int r = threadIdx.x / kCpr;
  const int row0 = kblock * nx::kKBlockRows;
  const char* kb = in.k + b * in.ks.batch + hk * in.ks.head + c * 16;
  let_dependents_launch();  // the Q pass's CTAs may start once this grid's last CTAs have
  uint4 raw[kPasses];  // K does not depend on the mean pass: loaded before waiting for it
#pragma unroll
  for (int p = 0; p < kPasses; ++p) {
    const int row = row0 + r + p * kRp;
    raw[p] = row < len_k ? *reinterpret_cast<const uint4*>(kb + row * in.ks.token) : make_uint4(0, 0, 0, 0);
  }
  wait_for_prerequisite_grid();  // the mean is written
  float mean[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) mean[i] = ws.k_mean[static_cast<int64_t>(bh) * D + c * 8 + i];
  // ks = k - mean is computed twice (for the block's max, then for the values) rather than kept: kPasses * 8 floats
  // held across the reduction would double the registers and halve the CTAs per SM that keep loads in flight.
  auto smoothed = [&](int p, float (&x)[8]) {
    const bool valid = row0 + r + p * kRp < len_k;
    to_float8<kBf16>(raw[p], x);
#pragma unroll
    for (int i = 0; i < 8; ++i) x[i] = valid ? __fsub_rn(x[i], mean[i]) : 0.0f;
  };
  float amax = 0.0f;
#pragma unroll
  for (int p = 0; p < kPasses; ++p) {
    float x[8];
    smoothed(p, x);
#pragma unroll
    for (int i = 0; i < 8; ++i) amax = fmaxf(amax, fabsf(x[i]));
  }
  amax = block_reduce<kKQuantThreads>(amax, red, MaxOp{});
  const float scale = nx::int8_block_scale(amax);
  const float inv = nx::correctly_rounded_reciprocal(scale);
  const bool division_free = nx::division_free_quantization_ok(scale);
  if (threadIdx.x == 0) ws.k_scale[static_cast<int64_t>(bh) * k_blocks + kblock] = scale;
  int8_t* kq = ws.k_int8 + (static_cast<int64_t>(bh) * len_k_padded + row0 + r) * D + c * 8;
#pragma unroll
  for (int p = 0; p < kPasses; ++p) {
    float x[8];
    smoothed(p, x);
    *reinterpret_cast<uint2*>(kq + p * kRp * D) = quantize_chunk(x, scale, inv, division_free);
  }
  if constexpr (kBf16) {
    if (want_v) {
      const float inv = __frcp_rn(ws.v_scale[bh]);  // 2^-e, exact
      const char* vb = in.v + b * in.vs.batch + hk * in.vs.head + c * 16;
      uint16_t* vo = ws.v_fp16 + (static_cast<int64_t>(bh) * len_k + row0 + r) * D + c * 8;
#pragma unroll
      for (int p = 0; p < kPasses; ++p) {
        const int row = row0 + r + p * kRp;
        if (row < len_k) raw[p] = *reinterpret_cast<const uint4*>(vb + row * in.vs.token);
      }
#pragma unroll
      for (int p = 0; p < kPasses; ++p) {
        const int row = row0 + r + p * kRp;
        if (row < len_k) {
          float f[8];
          to_float8<true>(raw[p], f);
          uint32_t w[4];
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            __half2 hv = __floats2half2_rn(__fmul_rn(f[2 * i], inv), __fmul_rn(f[2 * i + 1], inv));
            w[i] = *reinterpret_cast<uint32_t*>(&hv);
          }
          *reinterpret_cast<uint4*>(vo + static_cast<int64_t>(p) * kRp * D) = make_uint4(w[0], w[1], w[2], w[3]);
        }
      }
    }
  }
}

// ---- 4. Q blocks (scaled by sm_scale*log2 e, INT8) and q . k_mean ----
// Thread slot r = tid / kCpr owns rows row0 + r * kPasses + [0, kPasses); 32 / kCpr slots make a warp, so a warp
// owns rows [16 w, 16 w + 16) of the block whatever D.
// Four CTAs per SM for fp16 input (64 registers, no spills: the scaled values are recomputed, not kept), three for
// bf16 (whose conversions spill at 64).
template <int D, bool kBf16, nx::QGranularity kGranularity>
__global__ void __launch_bounds__(kQQuantThreads, kBf16 ? 3 : 4)
    q_quant_kernel(QkvPointers in, SageInt8Workspace ws, int heads_q, int group, int len_q, int len_q_padded,
                   float qk_scale) {
  constexpr int kCpr = D / 8;
  constexpr int kRp = kQQuantThreads / kCpr;
  constexpr int kPasses = nx::kQBlockRows / kRp;
  static_assert(nx::kQBlockRows % kRp == 0, "Q block rows must be a multiple of the rows per pass");
  static_assert(32 / kCpr * kPasses == nx::kQWarpRows, "a warp owns one 16-row group");
  __shared__ float red[kQQuantThreads / 32];
  const int qblock = blockIdx.x;
  const int bh = blockIdx.y;
  const int b = bh / heads_q, h = bh % heads_q;
  const int hk = h / group;
  const int c = threadIdx.x % kCpr;
  const int first_row = qblock * nx::kQBlockRows + threadIdx.x / kCpr * kPasses;
  const char* qb = in.q + b * in.qs.batch + h * in.qs.head + c * 16;
  const int heads_kv = heads_q / group;
  uint4 raw[kPasses];  // Q does not depend on the earlier passes: loaded before waiting for them
#pragma unroll
  for (int p = 0; p < kPasses; ++p) {
    const int row = first_row + p;
    raw[p] = row < len_q ? *reinterpret_cast<const uint4*>(qb + row * in.qs.token) : make_uint4(0, 0, 0, 0);
  }
  wait_for_prerequisite_grid();  // K's mean is written (the kernel before this one waited for it, or wrote it)
  float mean[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) mean[i] = ws.k_mean[(static_cast<int64_t>(b) * heads_kv + hk) * D + c * 8 + i];
  // x = q * qk_scale is computed twice (for the max, then for the values) rather than kept (see k_quant_kernel).
  auto scaled = [&](int p, float (&x)[8]) {
    to_float8<kBf16>(raw[p], x);
#pragma unroll
    for (int i = 0; i < 8; ++i) x[i] = __fmul_rn(x[i], qk_scale);
  };
  float amax = 0.0f;
#pragma unroll
  for (int p = 0; p < kPasses; ++p) {
    float f[8];
    to_float8<kBf16>(raw[p], f);
    float dot = 0.0f;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      dot = fmaf(f[i], mean[i], dot);
      amax = fmaxf(amax, fabsf(__fmul_rn(f[i], qk_scale)));
    }
#pragma unroll
    for (int o = kCpr / 2; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
    if (c == 0) ws.q_dot_mean[static_cast<int64_t>(bh) * len_q_padded + first_row + p] = dot;
  }
  if constexpr (kGranularity == nx::QGranularity::kPerBlock) {
    amax = block_reduce<kQQuantThreads>(amax, red, MaxOp{});
  } else {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  }
  const float scale = nx::int8_block_scale(amax);
  const float inv = nx::correctly_rounded_reciprocal(scale);
  const bool division_free = nx::division_free_quantization_ok(scale);
  const int64_t row_index = static_cast<int64_t>(bh) * len_q_padded + first_row;  // of the thread's first row
  if (threadIdx.x % 32 == 0) ws.q_scale[nx::q_scale_slot(row_index)] = scale;
  int8_t* qq = ws.q_int8 + row_index * D + c * 8;
#pragma unroll
  for (int p = 0; p < kPasses; ++p) {
    float x[8];
    scaled(p, x);
    *reinterpret_cast<uint2*>(qq + p * D) = quantize_chunk(x, scale, inv, division_free);
  }
}

int64_t align_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

// Whether the next launch may be early: only after a kernel of the same quantization call on the stream (an early
// kernel reads Q or K before waiting, which is safe only when the kernel before it is one of ours, itself after an
// ordinary launch that waited for whatever wrote them).
struct LaunchChain {
  bool after_our_kernel = false;
  bool next() { return std::exchange(after_our_kernel, true); }
};

// One quantization call's passes in the order given, on one launch chain (a kernel may launch early only after one
// of the same call); the layout and the input pointers are worked out once for all of them.
template <int D, bool kBf16>
void run_chain(const AttentionProblem& pr, const AttentionTensors& t, const SageInt8Workspace& ws,
               const QuantizationPass* first, const QuantizationPass* last, nx::QGranularity granularity,
               cudaStream_t stream) {
  const SageInt8WorkspaceLayout lay = sage_int8_workspace_layout(pr);
  QkvPointers in{};
  in.q = static_cast<const char*>(t.q);
  in.k = static_cast<const char*>(t.k);
  in.v = static_cast<const char*>(t.v);
  in.qs = Strides4{t.q_strides.batch * 2, t.q_strides.head * 2, t.q_strides.token * 2};
  in.ks = Strides4{t.k_strides.batch * 2, t.k_strides.head * 2, t.k_strides.token * 2};
  in.vs = Strides4{t.v_strides.batch * 2, t.v_strides.head * 2, t.v_strides.token * 2};
  const int bhk = pr.batch * pr.heads_kv;
  const int bhq = pr.batch * pr.heads_q;
  const bool want_v = kBf16;
  LaunchChain chain;
  for (const QuantizationPass* pass = first; pass != last; ++pass) {
    switch (*pass) {
      case QuantizationPass::kKMean:
        if (pr.len_k > 0) {  // the chain's first kernel wherever it runs: an ordinary launch (it does not wait)
          chain.next();
          kv_stats_kernel<D, kBf16><<<dim3(lay.kv_splits, bhk), kStatsThreads, 0, stream>>>(
              in, ws, pr.heads_kv, pr.len_k, lay.kv_splits, lay.kv_rows_per_split, want_v);
          SAGEVAL_CUDA_CHECK_LAUNCH();
        }
        launch_kernel(chain.next(), kv_finalize_kernel<D>, dim3(bhk), dim3(D), 0, stream, ws, pr.len_k,
                      pr.len_k > 0 ? lay.kv_splits : 0, want_v);
        break;
      case QuantizationPass::kKInt8:
        if (lay.k_blocks > 0) {
          launch_kernel(chain.next(), k_quant_kernel<D, kBf16>, dim3(lay.k_blocks, bhk), dim3(kKQuantThreads), 0,
                        stream, in, ws, pr.heads_kv, pr.len_k, lay.len_k_padded, lay.k_blocks, want_v);
        }
        break;
      case QuantizationPass::kQInt8:
        if (lay.q_blocks > 0) {
          auto kernel = granularity == nx::QGranularity::kPerBlock
                            ? q_quant_kernel<D, kBf16, nx::QGranularity::kPerBlock>
                            : q_quant_kernel<D, kBf16, nx::QGranularity::kPerWarp>;
          launch_kernel(chain.next(), kernel, dim3(lay.q_blocks, bhq), dim3(kQQuantThreads), 0, stream, in, ws,
                        pr.heads_q, pr.heads_q / pr.heads_kv, pr.len_q, lay.len_q_padded,
                        nx::qk_scale_log2(pr.sm_scale));
        }
        break;
      default:
        throw std::invalid_argument("sage_int8_quantize_pass: unknown pass " + std::to_string(static_cast<int>(*pass)));
    }
  }
}

void run_passes(const AttentionProblem& pr, const AttentionTensors& t, const SageInt8Workspace& ws,
                const QuantizationPass* first, const QuantizationPass* last, cudaStream_t stream,
                nx::QGranularity granularity) {
  if (pr.head_dim != 64 && pr.head_dim != 128) {
    throw std::runtime_error("sage_int8_quantize: unsupported head_dim " + std::to_string(pr.head_dim) +
                             " (supported: 64, 128)");
  }
  if (pr.batch == 0) return;
  const bool bf16 = pr.dtype == ElementType::kBFloat16;
  if (pr.head_dim == 64) {
    bf16 ? run_chain<64, true>(pr, t, ws, first, last, granularity, stream)
         : run_chain<64, false>(pr, t, ws, first, last, granularity, stream);
  } else {
    bf16 ? run_chain<128, true>(pr, t, ws, first, last, granularity, stream)
         : run_chain<128, false>(pr, t, ws, first, last, granularity, stream);
  }
}

}  // namespace

SageInt8WorkspaceLayout sage_int8_workspace_layout(const AttentionProblem& pr) {
  if (pr.head_dim != 64 && pr.head_dim != 128) {
    throw std::runtime_error("sage_int8_workspace_layout: unsupported head_dim " + std::to_string(pr.head_dim) +
                             " (supported: 64, 128)");
  }
  if (pr.heads_kv <= 0 || pr.heads_q % pr.heads_kv != 0) {
    throw std::runtime_error("sage_int8_workspace_layout: heads_q must be a positive multiple of heads_kv");
  }
  SageInt8WorkspaceLayout L;
  const int64_t B = pr.batch, Hq = pr.heads_q, Hkv = pr.heads_kv, D = pr.head_dim;
  L.q_blocks = (pr.len_q + nx::kQBlockRows - 1) / nx::kQBlockRows;
  L.k_blocks = (pr.len_k + nx::kKBlockRows - 1) / nx::kKBlockRows;
  L.len_q_padded = L.q_blocks * nx::kQBlockRows;
  L.len_k_padded = L.k_blocks * nx::kKBlockRows;
  // Token ranges for the K-sum: enough CTAs to cover the GPU (~512), at least 256 rows each.
  const int64_t bhk = std::max<int64_t>(1, B * Hkv);
  int splits = static_cast<int>(std::min<int64_t>((512 + bhk - 1) / bhk, std::max(1, (pr.len_k + 255) / 256)));
  splits = std::max(splits, 1);
  L.kv_rows_per_split = std::max(1, (pr.len_k + splits - 1) / splits);
  L.kv_splits = std::max(1, (pr.len_k + L.kv_rows_per_split - 1) / L.kv_rows_per_split);
  const bool bf16 = pr.dtype == ElementType::kBFloat16;
  int64_t off = 0;
  auto take = [&](int64_t bytes) {
    const int64_t o = off;
    off = align_up(off + bytes, 256);
    return o;
  };
  L.q_int8 = take(B * Hq * L.len_q_padded * D);
  L.k_int8 = take(B * Hkv * L.len_k_padded * D);
  L.q_scale = take(B * Hq * (L.len_q_padded / nx::kQWarpRows) * 4);
  L.k_scale = take(B * Hkv * L.k_blocks * 4);
  L.k_mean = take(B * Hkv * D * 4);
  L.v_fp16 = bf16 ? take(B * Hkv * static_cast<int64_t>(pr.len_k) * D * 2) : -1;
  L.v_scale = bf16 ? take(B * Hkv * 4) : -1;
  L.q_dot_mean = take(B * Hq * L.len_q_padded * 4);
  L.k_sum_partial = take(B * Hkv * L.kv_splits * D * 8);
  L.v_amax_partial = bf16 ? take(B * Hkv * L.kv_splits * 4) : -1;
  L.total_bytes = off;
  return L;
}

SageInt8Workspace sage_int8_workspace_at(void* base, const SageInt8WorkspaceLayout& L) {
  char* p = static_cast<char*>(base);
  SageInt8Workspace w;
  w.q_int8 = reinterpret_cast<int8_t*>(p + L.q_int8);
  w.k_int8 = reinterpret_cast<int8_t*>(p + L.k_int8);
  w.q_scale = reinterpret_cast<float*>(p + L.q_scale);
  w.k_scale = reinterpret_cast<float*>(p + L.k_scale);
  w.k_mean = reinterpret_cast<float*>(p + L.k_mean);
  w.v_fp16 = L.v_fp16 >= 0 ? reinterpret_cast<uint16_t*>(p + L.v_fp16) : nullptr;
  w.v_scale = L.v_scale >= 0 ? reinterpret_cast<float*>(p + L.v_scale) : nullptr;
  w.q_dot_mean = reinterpret_cast<float*>(p + L.q_dot_mean);
  w.k_sum_partial = reinterpret_cast<double*>(p + L.k_sum_partial);
  w.v_amax_partial = L.v_amax_partial >= 0 ? reinterpret_cast<float*>(p + L.v_amax_partial) : nullptr;
  return w;
}

const char* quantization_pass_name(QuantizationPass pass) {
  switch (pass) {
    case QuantizationPass::kKMean: return "k_mean";
    case QuantizationPass::kKInt8: return "k_int8";
    case QuantizationPass::kQInt8: return "q_int8";
  }
  return "?";
}

int64_t sage_int8_quantization_pass_bytes(const AttentionProblem& pr, QuantizationPass pass) {
  const int64_t nq = int64_t{pr.batch} * pr.heads_q * pr.len_q * pr.head_dim;  // elements
  const int64_t nk = int64_t{pr.batch} * pr.heads_kv * pr.len_k * pr.head_dim;
  const bool bf16 = pr.dtype == ElementType::kBFloat16;
  switch (pass) {
    case QuantizationPass::kKMean: return 2 * nk + (bf16 ? 2 * nk : 0);          // K read (bf16: V's max too)
    case QuantizationPass::kKInt8: return 2 * nk + nk + (bf16 ? 4 * nk : 0);     // K read, INT8 K written (V copied)
    case QuantizationPass::kQInt8: return 2 * nq + nq;                            // Q read, INT8 Q written
  }
  return 0;
}

// The INT8 passes between them read Q, K (and bf16 V) once and write everything; the mean pass only reads again.
int64_t sage_int8_quantization_min_bytes(const AttentionProblem& pr) {
  return sage_int8_quantization_pass_bytes(pr, QuantizationPass::kKInt8) +
         sage_int8_quantization_pass_bytes(pr, QuantizationPass::kQInt8);
}

void sage_int8_quantize_pass(const AttentionProblem& problem, const AttentionTensors& tensors,
                             const SageInt8Workspace& workspace, QuantizationPass pass, cudaStream_t stream,
                             numerics::QGranularity granularity) {
  run_passes(problem, tensors, workspace, &pass, &pass + 1, stream, granularity);
}

void sage_int8_quantize(const AttentionProblem& problem, const AttentionTensors& tensors,
                        const SageInt8Workspace& workspace, cudaStream_t stream, numerics::QGranularity granularity) {
  run_passes(problem, tensors, workspace, std::begin(kQuantizationPasses), std::end(kQuantizationPasses), stream,
             granularity);
}

}  // namespace sageval::kernels
