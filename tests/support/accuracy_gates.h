// Kernel-level accuracy gates, read from the thresholds file, and their records. One function per backend
// family decides pass or fail, so the CPU and GPU suites judge alike.
#pragma once

#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "sageval/metrics.h"
#include "sageval/record.h"
#include "support/attention_cases.h"

namespace sageval::testing {

struct AccuracyVerdict {
  ErrorStats stats;
  std::vector<Gate> gates;
  bool pass() const;
  // Every failed gate with its measured value, its threshold key and file, and the command that reruns it.
  std::string failure_message(const std::string& case_filter) const;
};

// `out` and `ref` are [B, Hq, Nq, D] (HND order).
AccuracyVerdict judge_sage_int8(const AttentionCase& c, const at::Tensor& out, const at::Tensor& ref);
// `plain` is plain_16bit_attention of the same inputs.
AccuracyVerdict judge_fp16(const AttentionCase& c, const at::Tensor& out, const at::Tensor& ref,
                           const at::Tensor& plain);
// Kernel against its CPU emulation.
AccuracyVerdict judge_against_emulation(const at::Tensor& out, const at::Tensor& emulated);

void record_verdict(const std::string& suite, const std::string& case_name, const std::string& candidate,
                    const std::string& baseline, const std::string& device, const AccuracyVerdict& verdict);

// Output of a forward call in HND order whatever the case's layout.
at::Tensor as_hnd(const at::Tensor& out, Layout layout);

}  // namespace sageval::testing
