// The numerical contract of the `sage_int8` backend, shared by the CUDA kernels and the CPU emulation.
//
// Both sides include this header and call these same inline functions, so the INT8 values and scales they
// produce are identical, and Q.K^T (an exact INT32 sum) is identical bit for bit. Everything after Q.K^T
// (exp2, the online-softmax rescaling, FP32 summation order) may differ by rounding only.
//
// Steps, for one (batch, head):
//  1. K smoothing. mean[d] = (float)(sum over all Nk tokens of (double)k[n][d] / Nk), accumulated in double so
//     that the order of summation does not change the rounded float result. ks[n][d] = (float)k[n][d] - mean[d]
//     (one float subtraction). Softmax is invariant to a per-row constant, so the output is unchanged; the
//     log-sum-exp is corrected in step 7.
//  2. Q scaling. x[n][d] = (float)q[n][d] * qk_scale_log2, with qk_scale_log2 = sm_scale * log2(e) computed
//     once in float by `qk_scale_log2()`. Folding log2(e) in lets the softmax use exp2.
//  3. Per-block INT8 quantization (Q blocks of q_scale_rows(granularity) tokens, K blocks of kKBlockRows tokens;
//     the last block of a sequence may be shorter): amax = max |x| over the block; scale = amax / 127 (IEEE division),
//     or 1.0 for an all-zero block so no NaN can appear; x_int8 = roundf(x / scale) (IEEE division; roundf
//     rounds half away from zero), clamped to [-127, 127].
//  4. S_int = Q_int8 . K_int8^T accumulated in INT32; exact (|S| <= 127*127*D < 2^24 for D <= 1024, so also
//     exact as a float32 matrix product, which the CPU emulation uses).
//  5. Dequantization: t = (float)S_int * (q_scale * k_scale), the product of the two scales rounded to float
//     first. t is the score in base-2 units: t = log2(e) * sm_scale * q.k (up to quantization error).
//  6. Online softmax over key tiles of kKeyTile tokens, in base 2: m_new = max(m, rowmax(t)); p = exp2(t - m_new);
//     P is rounded to FP16; the row sum l and the numerator both use the rounded P (so a constant V gives O = V
//     up to FP32 rounding); acc = acc * exp2(m - m_new) + P_fp16 . V_fp16 with an FP32 accumulator.
//     Masked scores are -inf; a row with no visible key yet keeps m = -inf and contributes nothing
//     (the rescale factor is taken as 0 there rather than exp2(-inf - -inf) = NaN).
//  7. Output = acc / l, rounded to the input dtype; a row with no visible key (causal, Nq > Nk) outputs 0.
//     LSE (natural log) = ln(2) * (m + log2(l)) + sm_scale * (q . mean), the last term undoing step 1;
//     -inf for a row with no visible key.
//  V: FP16 inputs are used as they are. BF16 V may exceed FP16's range (65504), so it is converted to FP16
//  after multiplying by 2^-e per (batch, kv head), with e the smallest e >= 0 such that max|V| * 2^-e <= 2^15;
//  the power of two is exact and the output is multiplied by 2^e in FP32 before rounding.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define SAGEVAL_HOST_DEVICE __host__ __device__
#else
#define SAGEVAL_HOST_DEVICE
#endif

namespace sageval::numerics {

// Token granularity of the INT8 scales and the key tile of the online softmax. The CUDA kernels and the CPU
// emulation both read these; change them here only.
inline constexpr int kQBlockRows = 128;  // the quantizer's Q block (and the sm80 kernels' CTA); Q is padded to it
inline constexpr int kQWarpRows = 16;    // one warp's query rows (an m16 tile of mma.sync, a warp's of wgmma m64)
inline constexpr int kKBlockRows = 64;
inline constexpr int kKeyTile = 64;
inline constexpr float kLog2e = 1.4426950408889634f;
inline constexpr float kLn2 = 0.6931471805599453f;
// bf16 V is scaled into FP16 so that its largest magnitude is at most this (a power of two well below 65504).
inline constexpr float kFp16VLimit = 32768.0f;

inline float qk_scale_log2(float sm_scale) { return sm_scale * kLog2e; }

// Q's INT8 scale granularity, a named part of the recipe: one scale per kQBlockRows rows (SageAttention's
// "per-block") or per kQWarpRows rows (its "per-warp": each warp of either kernel owns whole 16-row groups, so
// the finer scale costs the attention kernels nothing). The CUDA workspace holds one Q scale per kQWarpRows rows
// in both cases (a per-block scale repeated 8 times), so the attention kernels read a single layout and only the
// quantizer knows the granularity. kDefaultQGranularity is what the `sage_int8` backend runs; why: README,
// "When to use the INT8 backend".
enum class QGranularity { kPerBlock, kPerWarp };
inline constexpr QGranularity kDefaultQGranularity = QGranularity::kPerWarp;
constexpr int q_scale_rows(QGranularity g) { return g == QGranularity::kPerBlock ? kQBlockRows : kQWarpRows; }
// Where the workspace keeps the Q scale of a row: `padded_row` counts rows over (batch, head) with Q padded to a
// multiple of kQBlockRows ((b * Hq + h) * Nq_padded + row), so each 16-row group has its own slot.
SAGEVAL_HOST_DEVICE constexpr int64_t q_scale_slot(int64_t padded_row) { return padded_row / kQWarpRows; }
static_assert(kQBlockRows % kQWarpRows == 0, "a Q block is whole warp groups");

SAGEVAL_HOST_DEVICE inline float int8_block_scale(float amax) {
#if defined(__CUDA_ARCH__)
  return amax > 0.0f ? __fdiv_rn(amax, 127.0f) : 1.0f;
#else
  return amax > 0.0f ? amax / 127.0f : 1.0f;
#endif
}

// A rounded quotient clamped to [-127, 127]: symmetric INT8, -128 is never produced.
SAGEVAL_HOST_DEVICE inline int8_t clamp_to_int8(float rounded) {
  rounded = rounded > 127.0f ? 127.0f : (rounded < -127.0f ? -127.0f : rounded);
  return static_cast<int8_t>(rounded);
}

// clamp_to_int8(roundf(y)) for every y but NaN. On the device without the conversion pipe: roundf and the
// float-to-integer conversion are each an instruction of the quarter-rate conversion unit on sm_80-sm_90, which
// made the INT8 passes issue-bound; here two adds with rounding toward zero and integer arithmetic do it:
// a = min(|y|, 127); s = RZ(a + 0.5); u = RZ(s + 2^23); |q| = bits(u) - bits(2^23), the sign that of y. Exact:
// floor(s) = floor(a + 0.5) (the integer floor(a + 0.5) is a float and RZ is monotone, so RZ never rounds below
// it), s + 2^23 lies in [2^23, 2^23 + 128] where the floats are the integers, so u = 2^23 + floor(s); and
// floor(|y| + 0.5) is roundf's magnitude (half away from zero), the min with 127 its clamp. Checked on the GPU
// against the host's std::round around every half-integer (tests/gpu/test_int8_rounding.cpp). NaN: unspecified
// (undefined on the host, 127 on the device); the backend refuses non-finite inputs unless told not to check.
SAGEVAL_HOST_DEVICE inline int8_t round_to_int8(float y) {
#if defined(__CUDA_ARCH__)
  const float u = __fadd_rz(__fadd_rz(fminf(fabsf(y), 127.0f), 0.5f), 8388608.0f);
  const int magnitude = __float_as_int(u) - 0x4B000000;
  return static_cast<int8_t>(y < 0.0f ? -magnitude : magnitude);
#else
  return clamp_to_int8(std::round(y));
#endif
}

SAGEVAL_HOST_DEVICE inline int8_t quantize_int8(float x, float scale) {
#if defined(__CUDA_ARCH__)
  return clamp_to_int8(roundf(__fdiv_rn(x, scale)));
#else
  return clamp_to_int8(std::round(x / scale));
#endif
}

// The same INT8 value as quantize_int8 without a division per element, for the CUDA quantizer (a division is a
// reciprocal on the quarter-rate SFU plus a refinement: it made the quantization passes instruction-bound).
// With inv = RN(1 / scale) once per block, q0 = RN(x * inv) is within an ulp of x / scale, the remainder
// r = x - q0 * scale is exact in one FMA, and RN(q0 + r * inv) is the correctly rounded quotient RN(x / scale)
// (Markstein's theorem; Handbook of Floating-Point Arithmetic, 2nd ed., section 4.9). The theorem needs the
// remainder free of underflow, hence `division_free_quantization_ok`: scales from 2^-100 to 2^100 (smaller or
// larger blocks, and inf/NaN ones, take quantize_int8). Markstein's theorem wants q0 within an ulp, and RN(x * inv)
// is only within 1.5: so tests/quant checks the INT8 values exhaustively where they could differ (next to every
// half-integer quotient, for every scale significand; no difference) and by sampling elsewhere.
SAGEVAL_HOST_DEVICE inline bool division_free_quantization_ok(float scale) {
  return scale >= 0x1p-100f && scale <= 0x1p100f;
}

SAGEVAL_HOST_DEVICE inline float correctly_rounded_reciprocal(float scale) {
#if defined(__CUDA_ARCH__)
  return __frcp_rn(scale);
#else
  return 1.0f / scale;
#endif
}

SAGEVAL_HOST_DEVICE inline int8_t quantize_int8_division_free(float x, float scale, float inv) {
#if defined(__CUDA_ARCH__)
  const float q0 = __fmul_rn(x, inv);
  return round_to_int8(__fmaf_rn(__fmaf_rn(-q0, scale, x), inv, q0));
#else
  const float q0 = x * inv;
  return round_to_int8(std::fma(std::fma(-q0, scale, x), inv, q0));
#endif
}

SAGEVAL_HOST_DEVICE inline float dequant_scale(float q_scale, float k_scale) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(q_scale, k_scale);
#else
  return q_scale * k_scale;
#endif
}

// Smallest power-of-two exponent e >= 0 with amax * 2^-e <= kFp16VLimit.
SAGEVAL_HOST_DEVICE inline int fp16_v_exponent(float amax) {
  int e = 0;
  while (amax > kFp16VLimit && e < 126) {
    amax *= 0.5f;
    ++e;
  }
  return e;
}

}  // namespace sageval::numerics
