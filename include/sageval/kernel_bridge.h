// The one bridge from tensors to kernel problems. Every caller of the CUDA kernels (the fp16 and sage_int8
// backends, the kernel benchmark, the GPU tests, the memory accounting) gets its sizes, pointers and strides
// from here, and every check on them happens here, before any launch: 16-bit dtype, one device, head-dim
// stride 1, sizes that fit the kernels' int fields, and the 16-byte alignment of each pointer and each
// batch/head/token stride (the kernels read rows with 16-byte vector loads and cp.async; a misaligned address
// there is a sticky CUDA error that poisons the process). A misaligned input is copied to an aligned buffer
// and the copy is reported, or rejected with a message naming the tensor and the offset.
//
// Needs neither CUDA nor a GPU: it only reads tensor metadata, so it is unit-tested on the CPU.
#pragma once

#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "sageval/kernels/attention_problem.h"
#include "sageval/attention_inputs.h"

namespace sageval {

enum class MisalignedInputs { kCopy, kReject };

struct KernelCall {
  kernels::AttentionProblem problem;
  kernels::AttentionTensors tensors;
  at::Tensor q, k, v;                      // what tensors.q/k/v address: the caller's views or aligned copies
  at::Tensor out, lse;                     // out in q's memory order (HND or NHD); lse float32 [B, Hq, Nq]
  std::vector<std::string> input_copies;  // one line per input copied to an aligned buffer, saying why
};

// q [B, Hq, Nq, D], k and v [B, Hkv, Nk, D]: HND views with any batch/head/token strides. Allocates out (and
// lse when asked) on q's device. Throws std::invalid_argument naming the tensor and what is wrong.
KernelCall make_kernel_call(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                            double sm_scale, bool return_lse, MisalignedInputs misaligned = MisalignedInputs::kCopy);

// Empty when the kernels can read `t` ([B, H, N, D], head-dim stride 1) as it is; else what is misaligned,
// e.g. "data pointer 2 bytes past a 16-byte boundary" or "token stride 1001 elements (2002 bytes)".
std::string kernel_misalignment(const at::Tensor& t);

// The problem of a shape, for callers that size buffers before they have tensors (workspace accounting).
kernels::AttentionProblem make_kernel_problem(const AttentionShape& shape, bool causal, double sm_scale,
                                              at::ScalarType dtype);

}  // namespace sageval

#ifdef SAGEVAL_WITH_CUDA_KERNELS
#include "sageval/kernels/attention_kernels.h"

namespace sageval {

// The INT8 path's device workspace, through the caching allocator (so it shows in libtorch's memory figures).
struct SageInt8Buffers {
  at::Tensor bytes;
  kernels::SageInt8WorkspaceLayout layout;
  kernels::SageInt8Workspace views;
};
SageInt8Buffers allocate_sage_int8_workspace(const kernels::AttentionProblem& problem, const at::Device& device);

}  // namespace sageval
#endif
