// The two implementations behind sage_int8_attention (attention_kernels.h), chosen in sage_int8_attention.cu.
// Both take a validated problem with batch and len_q > 0.
#pragma once

#include <string>

#include <cuda_runtime.h>

#include "sageval/kernels/attention_kernels.h"

namespace sageval::kernels {

// mma.sync (attention_int8_sm80.cu): every architecture the build targets.
void sage_int8_attention_sm80(const AttentionProblem& problem, const AttentionTensors& tensors,
                              const SageInt8Workspace& workspace, cudaStream_t stream);

// wgmma + TMA (attention_int8_sm90.cu): compute capability 9.0 with sm_90a code in this build.
void sage_int8_attention_sm90(const AttentionProblem& problem, const AttentionTensors& tensors,
                              const SageInt8Workspace& workspace, cudaStream_t stream);

// Whether the sm90 path's tensor maps can describe these inputs: not a V broadcast with a zero stride over an
// extent larger than 1 (the sm80 path reads it as it is).
bool sage_int8_sm90_takes(const AttentionProblem& problem, const AttentionTensors& tensors);

// Empty when the sm90 path can run on the current device, else why not.
std::string sage_int8_sm90_unavailable();

}  // namespace sageval::kernels
