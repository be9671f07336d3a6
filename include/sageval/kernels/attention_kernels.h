// Host-side entry points of the CUDA attention kernels (implemented in kernels/). Plain pointers, sizes and
// strides only: this header and everything under kernels/ is independent of libtorch, so the kernels compile
// (and CI catches their build breaks) on machines whose libtorch has no CUDA.
//
// Conventions shared by every entry point:
//  - Tensors are addressed as [batch, head, token, dim] through element strides (`Strides4`); the dim stride is
//    1. HND, NHD and strided views into a fused QKV buffer are all just strides. Offsets are 64-bit.
//  - Grouped-query attention: query head h reads kv head h / (heads_q / heads_kv).
//  - Causal masking is bottom-right aligned: query i sees key j iff j <= i + (len_k - len_q).
//    A query that sees no key gets output 0 and LSE -inf.
//  - `lse`, when not null, is float32 [batch, heads_q, len_q] contiguous, natural log.
//  - Every CUDA call is checked; failures throw std::runtime_error carrying the CUDA message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <cuda_runtime.h>

#include "sageval/kernels/attention_problem.h"
#include "sageval/kernels/sage_int8_numerics.h"

namespace sageval::kernels {

// FP16/BF16 FlashAttention-2-style forward (the `fp16` backend).
// FLOPs: 4 * B * Hq * Nq * Nk * D (about half of it with causal masking when Nq == Nk).
// Bytes (minimum): (2 * B * Hq * Nq * D + 2 * B * Hkv * Nk * D) * 2 (+ 4 * B * Hq * Nq for the LSE).
void attention_fp16_forward(const AttentionProblem& problem, const AttentionTensors& tensors, cudaStream_t stream);

// Split-KV FP16/BF16 attention for short queries (decode; attention_fp16_decode.cu): the cache split across
// warps, partial results merged by their log-sum-exp. Takes problems with at most kDecodeMaxRows query rows per
// kv head (len_q * heads_q / heads_kv) whose shared memory fits a block of the current device (not D = 128 on
// sm_89), and is the only kernel that takes `AttentionTensors::kv_lengths`. The workspace size for one call on
// the current device (its split follows the SM count and len_k) is attention_fp16_decode_workspace_bytes (0: the
// kernel does not take it; use attention_fp16_forward). Which calls should take it: is_decode_call
// (attention_problem.h). Same conventions and rounding steps as attention_fp16_forward up to the merges (one FP32
// rescale and sum per warp's chunk, and one per CTA where a kv head has several).
// Bytes (minimum): 2 * 2 * B * Hkv * Nk * D (K and V read once) + Q, out, and the FP32 partials of the CTAs where
// a kv head has several.
int attention_fp16_decode_smem_bytes(int head_dim);  // shared memory of one block (64 or 128; the fit check)
int64_t attention_fp16_decode_workspace_bytes(const AttentionProblem& problem);
// Why the kernel does not take `problem` on the current device (e.g. "query rows per kv head 20 > 16"); empty where
// it does.
std::string attention_fp16_decode_refusal(const AttentionProblem& problem);
void attention_fp16_decode(const AttentionProblem& problem, const AttentionTensors& tensors, void* workspace,
                           cudaStream_t stream);

// Device buffers of the INT8 path, laid out contiguously; sizes from `sage_int8_workspace_layout`.
struct SageInt8Workspace {
  int8_t* q_int8 = nullptr;      // [B, Hq, Nq_padded, D]
  int8_t* k_int8 = nullptr;      // [B, Hkv, Nk_padded, D]
  float* q_scale = nullptr;      // [B, Hq, Nq_padded / numerics::kQWarpRows]: one per 16 rows, any granularity
  float* k_scale = nullptr;      // [B, Hkv, k_blocks]
  float* k_mean = nullptr;       // [B, Hkv, D]
  uint16_t* v_fp16 = nullptr;    // [B, Hkv, Nk, D] FP16 bits; bf16 input only (null for fp16 input)
  float* v_scale = nullptr;      // [B, Hkv] power-of-two factors 2^e; bf16 input only
  // Added by the kernels (scratch of sage_int8_quantize; the attention kernel reads q_dot_mean for the LSE):
  float* q_dot_mean = nullptr;      // [B, Hq, Nq_padded] q . k_mean per query row (unscaled q)
  double* k_sum_partial = nullptr;  // [B, Hkv, kv_splits, D] partial sums of K over token ranges
  float* v_amax_partial = nullptr;  // [B, Hkv, kv_splits] partial max|V|; bf16 input only
};

struct SageInt8WorkspaceLayout {
  int64_t q_int8 = 0, k_int8 = 0, q_scale = 0, k_scale = 0, k_mean = 0, v_fp16 = 0, v_scale = 0;  // offsets
  int64_t q_dot_mean = 0, k_sum_partial = 0, v_amax_partial = 0;  // offsets (added by the kernels)
  int64_t total_bytes = 0;
  int q_blocks = 0, k_blocks = 0, len_q_padded = 0, len_k_padded = 0;
  int kv_splits = 0, kv_rows_per_split = 0;  // token ranges of the K-mean / V-amax reduction (added)
};

SageInt8WorkspaceLayout sage_int8_workspace_layout(const AttentionProblem& problem);
SageInt8Workspace sage_int8_workspace_at(void* base, const SageInt8WorkspaceLayout& layout);

// Quantization (steps 1-3 of sage_int8_numerics.h, plus the bf16 V conversion): reads q, k, v. `granularity`: rows
// of Q per scale (the attention kernels read either). Runs the three passes below in order.
// Bytes: reads 2 * (B*Hq*Nq + 2*B*Hkv*Nk) * D, writes (B*Hq*Nq + B*Hkv*Nk) * D int8 (+ the V copy for bf16).
void sage_int8_quantize(const AttentionProblem& problem, const AttentionTensors& tensors,
                        const SageInt8Workspace& workspace, cudaStream_t stream,
                        numerics::QGranularity granularity = numerics::kDefaultQGranularity);

// The passes of sage_int8_quantize, in its order; each can run alone over a workspace whose earlier passes ran
// (the benchmark times them one by one against the device's copy). Within sage_int8_quantize a pass's kernels may
// start before the previous pass's finish (programmatic dependent launch); a pass run alone starts with an ordinary
// launch, after everything before it on the stream.
//  kKMean: K's mean over tokens per channel (two launches: partial sums over token ranges, then the mean); for
//          bf16 input also V's power-of-two scale.
//  kKInt8: K smoothed by the mean and rounded to INT8 per 64-token block, with the blocks' scales (and, for bf16
//          input, V's FP16 copy).
//  kQInt8: Q scaled by sm_scale * log2(e) and rounded to INT8 per `granularity` group, with the scales and q . k_mean.
enum class QuantizationPass { kKMean, kKInt8, kQInt8 };
inline constexpr QuantizationPass kQuantizationPasses[] = {QuantizationPass::kKMean, QuantizationPass::kKInt8,
                                                           QuantizationPass::kQInt8};
const char* quantization_pass_name(QuantizationPass pass);  // "k_mean", "k_int8", "q_int8"
// The bytes the pass must move at least: its 2-byte inputs read once, its INT8 (and bf16 V's FP16) values written;
// scales and means left out.
int64_t sage_int8_quantization_pass_bytes(const AttentionProblem& problem, QuantizationPass pass);
// The bytes the whole quantization must move at least: Q and K read once and their INT8 values written (bf16: V read
// and its FP16 copy written). The passes move K's bytes once more (the mean's read; bf16: V's too, its max).
int64_t sage_int8_quantization_min_bytes(const AttentionProblem& problem);
void sage_int8_quantize_pass(const AttentionProblem& problem, const AttentionTensors& tensors,
                             const SageInt8Workspace& workspace, QuantizationPass pass, cudaStream_t stream,
                             numerics::QGranularity granularity = numerics::kDefaultQGranularity);

// INT8 Q.K^T, FP16 P.V attention over a quantized workspace (steps 4-7). Reads v from `tensors` (fp16) or the
// workspace copy (bf16); writes out and lse. Runs the path `sage_int8_path()` names.
// FLOPs: 4 * B * Hq * Nq * Nk * D (half INT8 ops, half FP16 ops).
void sage_int8_attention(const AttentionProblem& problem, const AttentionTensors& tensors,
                         const SageInt8Workspace& workspace, cudaStream_t stream);

// The implementations of sage_int8_attention: kSm90 (wgmma + TMA, warp-specialized; compute capability 9.0 with
// sm_90a code in this build) and kSm80 (mma.sync; every architecture, the fallback). Both give the same INT8
// values and Q.K^T bit for bit; they differ after it by rounding only.
enum class SageInt8Path { kAuto, kSm80, kSm90 };
const char* sage_int8_path_name(SageInt8Path path);             // "auto", "sm80", "sm90"
SageInt8Path parse_sage_int8_path(const std::string& name);     // throws std::invalid_argument naming it
// Process-wide choice (kAuto, the default: kSm90 wherever it can run). Not thread-safe: set it before launching.
void set_sage_int8_path(SageInt8Path path);
// The path sage_int8_attention takes on the current device (never kAuto); throws when kSm90 was asked for and
// cannot run here, saying why.
SageInt8Path sage_int8_path();

}  // namespace sageval::kernels
