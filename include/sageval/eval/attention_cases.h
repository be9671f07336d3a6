// The attention case table that every accuracy check sweeps: the CPU suite, the GPU suite, the kernel
// benchmark's sanity check and `sageval check`. A case's name is built from its parameters
// (D128_Q1000_K65_Causal_GQA4_B1_NHD_Bf16_KBias) and is the same string in the gtest name, the ctest filter,
// the record and the failure list. Each case carries its tolerance, read from the thresholds file, as
// llama.cpp's test-backend-ops cases carry theirs.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "sageval/attention.h"
#include "sageval/attention_inputs.h"

namespace sageval::eval {

// What a backend's output is compared with.
enum class Reference {
  kMath,       // float64 `math` (float32 `math_fp32` beyond 8K keys on the GPU, where float64 is too slow)
  kEmulation,  // the backend's own exact CPU emulation (the kernels only: fp16, sage_int8)
};
const char* to_string(Reference reference);

// The bounds a case's result must meet. Unset bounds do not apply.
struct Tolerance {
  std::optional<double> min_cosine;
  std::optional<double> max_rel_l1;
  // max|out - ref| <= plain16_ratio * (error of plain 16-bit attention) + abs_floor * max|ref|, as
  // FlashAttention's tests bound their kernels (fp16 against math); abs_floor is a few machine epsilons.
  std::optional<double> plain16_ratio;
  double abs_floor = 0.0;
  std::optional<double> max_lse_abs_error;  // natural log; -inf == -inf counts as no error
  std::string key;                          // the thresholds-file object the bounds come from
};

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
  AttentionOptions options() const;  // asks for the LSE
  // Bounds for `backend` against `reference` on this case (its family and dtype), from the thresholds file
  // (a missing key throws, naming it). Backends without thresholds (math_fp32, sdpa) get no bounds: only the
  // finite-output gate judges them.
  Tolerance tolerance(const std::string& backend, Reference reference) const;
  // The same from the backend's capabilities (which gates judge it, whether it has a CUDA kernel), for a caller
  // that holds the backend already.
  Tolerance tolerance(const std::string& backend, const BackendCapabilities& caps, Reference reference) const;
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

}  // namespace sageval::eval
