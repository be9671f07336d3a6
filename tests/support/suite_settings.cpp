#include "support/suite_settings.h"

#include <cstdlib>

#include <fmt/format.h>

#include "sageval/attention.h"
#include "sageval/thresholds.h"

namespace sageval::testing {

at::Device suite_device() { return suites_on_gpu() ? at::Device(at::kCUDA) : at::Device(at::kCPU); }

int64_t suite_size(const char* env, int64_t cpu_default, int64_t gpu_default) {
  return env_int_or(env, suites_on_gpu() ? gpu_default : cpu_default);
}

std::string suite_setting(const char* env, const std::string& cpu_default, const std::string& gpu_default) {
  return env_or(env, suites_on_gpu() ? gpu_default : cpu_default);
}

std::unique_ptr<model::LlamaModel> load_suite_model() {
  model::LoadOptions options;
  options.device = suite_device();
  return model::LlamaModel::load(suite_model_dir(), options);
}

Record suite_record(const std::string& suite, const std::string& case_name, const std::string& candidate,
                    const std::string& baseline, const model::LlamaModel& model, const std::string& dataset) {
  Record record;
  record.suite = suite;
  record.case_name = case_name;
  record.candidate = candidate;
  record.baseline = baseline;
  if (const auto plan = suite_precision_plan(); plan && candidate == plan->candidate && baseline == plan->baseline) {
    record.candidate = plan->label();
    record.figures["precision_plan"] = plan->to_json();
  }
  record.device = model.device().str();
  record.figures["model"] = model.folder();
  record.figures["model_dtype"] = c10::toString(model.dtype());
  record.figures["dataset"] = dataset;
  return record;
}

std::string baseline_backend() { return env_or("SAGEVAL_BASELINE", "fp16"); }

std::optional<eval::PrecisionPlan> suite_precision_plan() {
  const char* path = std::getenv("SAGEVAL_PRECISION_PLAN");
  if (path == nullptr || *path == '\0') return std::nullopt;
  eval::PrecisionPlan plan = eval::read_precision_plan(path);
  if (plan.candidate != candidate_backend() || plan.baseline != baseline_backend())
    throw std::invalid_argument(fmt::format("precision plan {} is for {} on {}, the suites run {} against {}", path,
                                            plan.candidate, plan.baseline, candidate_backend(), baseline_backend()));
  return plan;
}

eval::BackendPair suite_pair(bool against_math) {
  if (against_math) return {"math", baseline_backend(), {}};
  eval::BackendPair pair{baseline_backend(), candidate_backend(), {}};
  if (const auto plan = suite_precision_plan()) pair.candidate_layer_backend = plan->selection().layer_backend;
  return pair;
}

std::string suite_skip_reason() {
  if (std::getenv("SAGEVAL_DATA_DIR") == nullptr)
    return "SAGEVAL_DATA_DIR is not set: WikiText-2 and PTB are needed (scripts/fetch_data.sh)";
  if (!suites_on_gpu()) return "";
  return why_no_cuda_path(candidate_backend());
}

std::string rerun_hint(const std::string& case_regex) {
  return fmt::format("rerun: ctest -R '{}' -L {} (sizes: SAGEVAL_SUITE_* variables, model: SAGEVAL_MODEL, "
                     "candidate: SAGEVAL_ATTENTION_BACKEND)", case_regex, suites_on_gpu() ? "gpu" : "cpu");
}

void expect_gates(const Record& record, const std::string& context, const std::string& rerun) {
  for (const Gate& g : record.gates)
    EXPECT_TRUE(g.pass) << g.describe() << "\n  " << context << " (thresholds: " << Thresholds::defaults().path()
                        << ")\n  " << rerun;
}

}  // namespace sageval::testing
