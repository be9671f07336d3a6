// Where and how big the model-level suites run. The same suite sources are linked into two executables:
// sageval_model_tests runs them on the CPU at reduced sizes (label cpu), sageval_model_gpu_tests on CUDA at
// full sizes (label gpu; skipped, visibly, where no GPU is usable). Each executable links exactly one of
// suite_on_cpu.cpp / suite_on_gpu.cpp, which defines suites_on_gpu().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "sageval/eval/backend_comparison.h"
#include "sageval/eval/precision_plan.h"
#include "sageval/model/llama_model.h"
#include "sageval/record.h"
#include "support/test_options.h"

namespace sageval::testing {

bool suites_on_gpu();
at::Device suite_device();

// A size setting: the environment variable when set, otherwise this executable's default (CPU or GPU size).
int64_t suite_size(const char* env, int64_t cpu_default, int64_t gpu_default);
std::string suite_setting(const char* env, const std::string& cpu_default, const std::string& gpu_default);

// The suite model (SAGEVAL_MODEL or the bundled one) on suite_device(): float32 on CPU, float16 on CUDA.
std::unique_ptr<model::LlamaModel> load_suite_model();

// A model-suite record with what every one names besides its figures: the backends, the device, the model
// folder, its dtype and the data set. Suites add their figures with figures.update / figures[...]. A candidate
// run under a precision plan is named by the plan's label and carries the plan.
Record suite_record(const std::string& suite, const std::string& case_name, const std::string& candidate,
                    const std::string& baseline, const model::LlamaModel& model, const std::string& dataset);

// What a case compares: the baseline (SAGEVAL_BASELINE, default fp16) against the candidate, or, against_math,
// math against the baseline (the FP16 noise floor every difference is read against). With a precision plan
// (SAGEVAL_PRECISION_PLAN, a plan file: eval/precision_plan.h) the candidate side keeps the plan's layers on the
// baseline; a plan for other backends than the suites' is an error naming both.
eval::BackendPair suite_pair(bool against_math);
std::optional<eval::PrecisionPlan> suite_precision_plan();
std::string baseline_backend();

// Why the suites cannot run here ("" when they can): no SAGEVAL_DATA_DIR, or a GPU executable without a GPU.
std::string suite_skip_reason();

// Why `backend` cannot run on a GPU here ("" when it can): no CUDA device visible to libtorch, a backend this build
// does not have, or one without a CUDA path in this build. The one check every GPU test skips on.
std::string why_no_cuda_path(const std::string& backend);

// Why the CUDA kernels cannot be called directly here ("" when they can): a build without them (CPU-only libtorch),
// or no CUDA device visible to libtorch. The check of the tests that call kernels/ themselves, not a backend.
std::string why_no_cuda_kernels();

// Asserts every gate of a record, from the same objects the record holds: each failed one with its key,
// measured value and threshold, `context`, the thresholds file and `rerun`.
void expect_gates(const Record& record, const std::string& context, const std::string& rerun);

// How a reader reruns one case: the ctest regular expression, the executable and the size variables.
std::string rerun_hint(const std::string& case_regex);

}  // namespace sageval::testing

#define SAGEVAL_SUITE_PRECONDITIONS()                                                 \
  do {                                                                                \
    const std::string sageval_skip_reason = ::sageval::testing::suite_skip_reason(); \
    if (!sageval_skip_reason.empty()) GTEST_SKIP() << sageval_skip_reason;            \
  } while (0)
