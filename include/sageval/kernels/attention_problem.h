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

struct AttentionTensors {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* out = nullptr;
  float* lse = nullptr;  // optional
  Strides4 q_strides, k_strides, v_strides, out_strides;
};

}  // namespace sageval::kernels
