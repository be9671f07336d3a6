// Kernel-level accuracy: one suite source, linked into two executables. sageval_accuracy_tests runs it on the
// CPU (the fp16 and sage_int8 backends are their exact emulations there), sageval_gpu_tests on CUDA (the
// kernels), where it also compares each kernel with its emulation. Every case goes through the one harness
// (sageval/eval/attention_harness.h): output and log-sum-exp against the reference, the tolerance on the case,
// every gate in the record and asserted from the same objects.
#include <gtest/gtest.h>

#include <torch/version.h>

#include "sageval/attention.h"
#include "sageval/error_message.h"
#include "sageval/eval/attention_harness.h"
#include "support/suite_settings.h"

namespace sageval::testing {
namespace {

using eval::AttentionCase;
using eval::Reference;

// Empty when this executable's device can run `backend`; otherwise why not.
std::string why_not_here(const std::string& backend) {
  if (!suites_on_gpu()) return {};
  return why_no_cuda_path(backend);
}

void check(const AttentionCase& c, const std::string& backend, Reference reference) {
  const std::string why = why_not_here(backend);
  if (!why.empty()) GTEST_SKIP() << why;
  const std::string suite = reference == Reference::kMath ? "attention_accuracy_" : "attention_vs_emulation_";
  // A case that cannot be judged still leaves its record: the report counts it, never drops it.
  auto record_of = [&](nlohmann::json figures, std::vector<Gate> gates) {
    Record r;
    const std::string device = suite_device().is_cuda() ? "cuda" : "cpu";
    r.suite = suite + device;
    r.case_name = c.name();
    r.candidate = backend;
    r.baseline = eval::to_string(reference);
    r.device = device;
    r.figures = std::move(figures);
    r.gates = std::move(gates);
    return r;
  };
  eval::CaseResult r;
  try {
    r = eval::run_attention_case(c, backend, reference, suite_device());
  } catch (const UnsupportedInput& e) {
    // A limit the backend declares (e.g. a library that aligns causal masks top-left when Nq != Nk): recorded as
    // unsupported, with the reason, and counted so in the report; neither passed nor failed.
    append_record(record_of({{"unsupported", e.what()}}, {}));
    GTEST_SKIP() << "unsupported by " << backend << ": " << e.what();
  } catch (const std::exception& e) {
    // Any other error (e.g. a backend whose output overflows to Inf): a failed case with the message (a libtorch
    // error's, without its C++ backtrace).
    const std::string message = error_message(e);
    append_record(record_of({{"error", message}}, {Gate::at_most("the backend ran without an error", 1.0, 0.0)}));
    FAIL() << backend << " on " << c.name() << ": " << message;
  }
  std::printf("[ figures  ] %s %s(%s) vs %s: %s lse_max_abs=%.3e\n", c.name().c_str(), backend.c_str(),
              r.device.c_str(), r.reference.c_str(), format_error_stats(r.stats).c_str(), r.lse_max_abs);
  append_record(r.to_record(suite + r.device));
  for (const Gate& g : r.gates) EXPECT_TRUE(g.pass) << g.describe();
  if (!r.pass()) ADD_FAILURE() << r.failure_message();
}

class SageInt8VsMath : public ::testing::TestWithParam<AttentionCase> {};
class Fp16VsMath : public ::testing::TestWithParam<AttentionCase> {};
class SageInt8VsEmulation : public ::testing::TestWithParam<AttentionCase> {};
class Fp16VsEmulation : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(SageInt8VsMath, Accuracy) { check(GetParam(), "sage_int8", Reference::kMath); }
TEST_P(Fp16VsMath, Accuracy) { check(GetParam(), "fp16", Reference::kMath); }
TEST_P(SageInt8VsEmulation, MatchesCpuEmulation) { check(GetParam(), "sage_int8", Reference::kEmulation); }
TEST_P(Fp16VsEmulation, MatchesCpuEmulation) { check(GetParam(), "fp16", Reference::kEmulation); }

// The candidate (--attention-backend / SAGEVAL_ATTENTION_BACKEND) over the same case table when it is another
// backend than the two above, e.g. a py: backend wrapping an external library; judged by the gates its
// capabilities name. Skipped, saying so, when the candidate is sage_int8 or fp16 (their suites above run).
class CandidateVsMath : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(CandidateVsMath, Accuracy) {
  const std::string& candidate = candidate_backend();
  if (candidate == "sage_int8" || candidate == "fp16")
    GTEST_SKIP() << "the candidate is " << candidate << ": its own suite (" << (candidate == "fp16" ? "Fp16" : "SageInt8")
                 << "VsMath) covers these cases";
  check(GetParam(), candidate, Reference::kMath);
}

// libtorch's SDPA (where this libtorch has it) against math, in float32 so that the comparison is tight.
class SdpaVsMath : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(SdpaVsMath, Accuracy) {
  if (!has_backend("sdpa")) GTEST_SKIP() << "libtorch " << TORCH_VERSION << " has no scaled_dot_product_attention";
  if (suites_on_gpu() && !at::hasCUDA()) GTEST_SKIP() << "no CUDA device visible to libtorch";
  const AttentionCase& c = GetParam();
  auto in = make_attention_inputs(c.shape(), c.family, at::kFloat, c.layout, seed_from_name(c.name()), suite_device());
  AttentionOptions o = c.options();
  o.return_lse = false;
  at::Tensor out = eval::as_hnd(make_backend("sdpa")->forward(in.q, in.k, in.v, o).out, c.layout);
  at::Tensor ref = eval::as_hnd(make_backend("math")->forward(in.q, in.k, in.v, o).out, c.layout);
  const ErrorStats s = compare_tensors(out, ref);
  std::printf("[ figures  ] %s sdpa(fp32) vs math: %s\n", c.name().c_str(), format_error_stats(s).c_str());
  // On the GPU, libtorch picks a float32 kernel that sums in another order than the CPU.
  const Gate g = Gate::at_most("sdpa(fp32) max_abs error", s.max_abs, suites_on_gpu() ? 1e-3 : 1e-4);
  EXPECT_TRUE(g.pass && s.nan_count + s.inf_count == 0) << g.describe() << " " << format_error_stats(s);
}

std::string case_name(const ::testing::TestParamInfo<AttentionCase>& info) { return info.param.name(); }

std::vector<AttentionCase> sdpa_cases() {
  std::vector<AttentionCase> cases;
  for (const AttentionCase& c : eval::shape_cases())
    if (c.head_dim == 64 && (c.gqa == 1 || c.gqa == 4)) cases.push_back(c);
  return cases;
}

// Long sequences and the comparison with the emulation exist on the GPU only (on the CPU the backends are
// their emulations, and float64 references at 32K tokens take hours).
std::vector<AttentionCase> on_gpu_only(std::vector<AttentionCase> cases) {
  return suites_on_gpu() ? cases : std::vector<AttentionCase>{};
}

// On the CPU executable the two lists above are empty.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SageInt8VsEmulation);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Fp16VsEmulation);

INSTANTIATE_TEST_SUITE_P(Shapes, SageInt8VsMath, ::testing::ValuesIn(eval::shape_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Inputs, SageInt8VsMath, ::testing::ValuesIn(eval::input_family_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Long, SageInt8VsMath, ::testing::ValuesIn(on_gpu_only(eval::long_sequence_cases())), case_name);
INSTANTIATE_TEST_SUITE_P(Shapes, Fp16VsMath, ::testing::ValuesIn(eval::shape_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Inputs, Fp16VsMath, ::testing::ValuesIn(eval::input_family_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Long, Fp16VsMath, ::testing::ValuesIn(on_gpu_only(eval::long_sequence_cases())), case_name);
INSTANTIATE_TEST_SUITE_P(Shapes, SageInt8VsEmulation, ::testing::ValuesIn(on_gpu_only(eval::shape_cases())), case_name);
INSTANTIATE_TEST_SUITE_P(Inputs, SageInt8VsEmulation, ::testing::ValuesIn(on_gpu_only(eval::input_family_cases())), case_name);
INSTANTIATE_TEST_SUITE_P(Shapes, Fp16VsEmulation, ::testing::ValuesIn(on_gpu_only(eval::shape_cases())), case_name);
INSTANTIATE_TEST_SUITE_P(Inputs, Fp16VsEmulation, ::testing::ValuesIn(on_gpu_only(eval::input_family_cases())), case_name);
INSTANTIATE_TEST_SUITE_P(Shapes, CandidateVsMath, ::testing::ValuesIn(eval::shape_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Inputs, CandidateVsMath, ::testing::ValuesIn(eval::input_family_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Long, CandidateVsMath, ::testing::ValuesIn(on_gpu_only(eval::long_sequence_cases())), case_name);
INSTANTIATE_TEST_SUITE_P(Shapes, SdpaVsMath, ::testing::ValuesIn(sdpa_cases()), case_name);

}  // namespace
}  // namespace sageval::testing
