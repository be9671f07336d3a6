// A precision plan: the layers that keep the baseline attention (e.g. fp16) while every other layer runs the
// candidate (e.g. sage_int8). Stored as JSON so a user can hand it to their engine:
//   {"candidate": "sage_int8", "baseline": "fp16", "baseline_layers": [0], "found_by": "..."}
// `plan_precision` finds one with the sensitivity trace (eval/sensitivity.h): layers go to the baseline, most
// guilty first, until a gate passes on the data given.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "sageval/eval/backend_comparison.h"
#include "sageval/eval/token_stats.h"
#include "sageval/model/llama_model.h"

namespace sageval::eval {

struct PrecisionPlan {
  std::string candidate;
  std::string baseline;
  std::vector<int64_t> baseline_layers;  // ascending, unique
  std::string found_by;                  // how the plan was made (free text)

  // The candidate everywhere except baseline_layers.
  model::AttentionSelection selection() const;
  // "sage_int8 (layers 0, 3 on fp16)"; "sage_int8 (plan: no layer on fp16)" when no layer is kept (distinct from the
  // bare candidate, so that a run with the plan and one without are told apart in the records).
  std::string label() const;
  nlohmann::json to_json() const;
};

// Reads and checks a plan file; errors (std::invalid_argument) name the file and the field: unknown keys, wrong
// types, negative or repeated layers, empty backend names. `num_layers` > 0 also checks layers < num_layers and
// that some layer is left on the candidate.
PrecisionPlan read_precision_plan(const std::string& path, int64_t num_layers = 0);
PrecisionPlan precision_plan_from_json(const nlohmann::json& j, const std::string& where, int64_t num_layers = 0);
void write_precision_plan(const PrecisionPlan& plan, const std::string& path);  // atomically

// What a plan is judged on: the summary of the candidate (with the plan) against the all-baseline run.
using PlanGate = std::function<bool(const TokenStatsSummary&)>;

struct PlanSearch {
  PrecisionPlan plan;
  bool passes = false;                         // whether the final plan passes `gate` on the data
  std::vector<nlohmann::json> steps;           // per step: the layers on the baseline, agreement, KLD, pass
};

// Greedy search on windows (inputs/targets int64 [W, T], positions >= score_from scored, forward passes of at most
// max_tokens_per_forward tokens): start with the candidate in every layer; while the gate fails, move to the
// baseline the layer whose move lowers the mean KLD most; stop when the gate passes or only one layer is left on
// the candidate (a plan without the candidate would pass trivially: then `passes` is false). Leaves the model on
// the all-baseline selection.
PlanSearch plan_precision(model::LlamaModel& model, const at::Tensor& inputs, const at::Tensor& targets,
                          int64_t score_from, const BackendPair& pair, const PlanGate& gate,
                          int64_t max_tokens_per_forward = 65536);

}  // namespace sageval::eval
