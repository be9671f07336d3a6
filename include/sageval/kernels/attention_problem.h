// The plain description of one attention call that every kernel entry point takes: sizes, flags and raw
// pointers with element strides. No CUDA and no libtorch here, so the bridge that fills it
// (include/sageval/kernel_bridge.h) compiles and is tested on machines without either.
//
// Conventions (attention_kernels.h beside this repeats them for the entry points):
//  - Tensors are addressed as [batch, head, token, dim] through element strides (`Strides4`); the dim stride is
//    1. Every pointer and every batch/head/token stride in bytes is a multiple of kKernelAlignment: the kernels
//    load rows with 16-byte vector and cp.async accesses. The bridge copies (or rejects) inputs that are not.
//  - Offsets are 64-bit; sizes fit in int.
#pragma once

#include <cstdint>

namespace sageval::kernels {

// Bytes every pointer and every batch/head/token stride must be a multiple of.
constexpr int64_t kKernelAlignment = 16;

enum class ElementType { kFloat16, kBFloat16 };

struct Strides4 {
  int64_t batch = 0;
  int64_t head = 0;
  int64_t token = 0;
};

struct AttentionProblem {
  int batch = 0;
  int heads_q = 0;
  int heads_kv = 0;
  int len_q = 0;
  int len_k = 0;
  int head_dim = 0;  // 64 or 128
  bool causal = false;
  float sm_scale = 0.0f;
  ElementType dtype = ElementType::kFloat16;
};

// Decode: a few query rows per kv head against a long cache, where the split-KV kernel
// (attention_fp16_decode) beats the prefill tiling of 128 query rows. One definition for the kernels, the
// backends and the CPU emulations, so that a backend that treats decode apart (sage_int8 runs it in FP16) does
// so the same way on every device.
constexpr int kDecodeMaxRows = 16;    // query rows per kv head (len_q * heads_q / heads_kv): one m16 tile
constexpr int kDecodeMinKeys = 256;   // without kv_lengths, shorter caches take the prefill kernel (4 key tiles)
constexpr bool is_decode_call(int64_t len_q, int64_t heads_q, int64_t heads_kv, int64_t len_k, bool kv_lengths) {
  return heads_kv > 0 && len_q > 0 && len_q * (heads_q / heads_kv) <= kDecodeMaxRows &&
         (len_k >= kDecodeMinKeys || kv_lengths);
}

struct AttentionTensors {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* out = nullptr;
  float* lse = nullptr;  // optional
  // Optional, int32 [batch] on the device: batch b attends to keys [0, min(kv_lengths[b], len_k)) only (causal
  // alignment then bottom-right to that length). Read on the device, so a captured graph replays any length.
  // Taken by attention_fp16_decode only.
  const int32_t* kv_lengths = nullptr;
  Strides4 q_strides, k_strides, v_strides, out_strides;
};

}  // namespace sageval::kernels
