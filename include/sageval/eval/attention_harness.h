// The one attention harness: a case from the table (attention_cases.h), a backend, a reference and a device
// in; the output and the log-sum-exp compared with the reference, each bound of the case's tolerance turned
// into a gate, out. The CPU and GPU suites, `sageval check` and the kernel benchmark's sanity check all call
// run_attention_case, so a check added here reaches every one of them.
#pragma once

#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "sageval/eval/attention_cases.h"
#include "sageval/metrics.h"
#include "sageval/record.h"

namespace sageval::eval {

struct CaseResult {
  std::string case_name, backend, reference, device;
  ErrorStats stats;           // output against the reference
  double lse_max_abs = 0.0;   // natural log; NaN when the backend returned no LSE
  std::vector<Gate> gates;
  std::vector<std::string> input_copies;  // what the backend copied (misaligned views), from AttentionOutput

  bool pass() const;
  // Every failed gate with its measured value and threshold, the thresholds file, and the command that reruns it.
  std::string failure_message() const;
  Record to_record(const std::string& suite) const;
};

// Draws the case's inputs on `device` (seeded by the case name), runs `backend` and the reference, and judges.
// On CUDA, the free memory of the caching allocator is filled with NaN first, so an output element the kernel
// never writes reads back as NaN and fails the finite gate.
CaseResult run_attention_case(const AttentionCase& c, const std::string& backend, Reference reference,
                              const at::Device& device);

// Judges an output (and LSE, when defined) that the caller computed, against a reference's. HND [B, H, N, D].
// `plain16` is plain 16-bit attention of the same inputs; needed only when the tolerance has plain16_ratio.
CaseResult judge_attention(const AttentionCase& c, const std::string& backend, Reference reference,
                           const AttentionOutput& out, const AttentionOutput& ref, const at::Tensor& plain16 = {});

// Attention in plain 16-bit arithmetic, each operation's result rounded to the input dtype (scores, softmax
// probabilities, output), as a framework computes it without a fused kernel: the yardstick of the fp16 bound.
// HND inputs, any device; returns [B, Hq, Nq, D]. Causal: bottom-right aligned.
at::Tensor plain_16bit_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                                 double sm_scale);

// max |a - b| over the LSE, with -inf == -inf (rows that see no key) counted as no error.
double lse_max_abs_error(const at::Tensor& lse, const at::Tensor& ref_lse);

// An output in the case's layout as HND [B, H, N, D] (a view).
at::Tensor as_hnd(const at::Tensor& t, Layout layout);

}  // namespace sageval::eval
