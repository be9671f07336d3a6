// The attention case tables swept by the accuracy suites (CPU emulation and GPU kernels alike). A case's name
// is built from its parameters (D128_Q1000_K65_Causal_GQA4_NHD_Bf16_KBias) and is the same string in the gtest
// name, the ctest filter, the record and the failure list.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "sageval/attention.h"
#include "sageval/attention_inputs.h"

namespace sageval::testing {

struct AttentionCase {
  int head_dim = 64;
  int64_t len_q = 1;
  int64_t len_k = 1;
  bool causal = false;
  int gqa = 1;  // Hq / Hkv
  Layout layout = Layout::HND;
  at::ScalarType dtype = at::kHalf;
  InputFamily family = InputFamily::Gaussian;
  int64_t batch = 1;
  int64_t heads_kv = 2;

  std::string name() const;
  AttentionShape shape() const;
  AttentionOptions options() const;
};

// Shapes: head dim {64, 128} x (Nq, Nk) pairs {1/1, 1/1000 (decode), 63, 65, 128, 1000, 65/1000, 1000/65}
// x causal x GQA {1, 2, 4, 8}, Gaussian inputs; layout and dtype rotate so every pair meets all four
// (layout, dtype) combinations.
std::vector<AttentionCase> shape_cases();
// Inputs: every input family x head dim x dtype x causal at Nq = Nk = 1000, GQA 2, layout rotating.
std::vector<AttentionCase> input_family_cases();
// Long sequences for the GPU: up to 32K tokens.
std::vector<AttentionCase> long_sequence_cases();

const char* camel_name(InputFamily family);

// GoogleTest prints parameters with this instead of a byte dump.
inline void PrintTo(const AttentionCase& c, std::ostream* os) { *os << c.name(); }

}  // namespace sageval::testing
