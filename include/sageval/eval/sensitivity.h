// Which layers' candidate attention moves the model's predictions: sensitivity tracing.
//
// For a set of windows (rows of token ids whose tail is scored), the all-baseline run is the reference; then the
// candidate backend runs in one layer only (every other layer on the baseline), in every layer but one, and in
// every layer, and each run's top-1 agreement and KL divergence against the reference are recorded. A layer is
// named guilty when keeping it on the baseline, with the candidate everywhere else, removes at least half of the
// all-candidate run's mean KLD; if no single layer does, the layer whose candidate-only run has the largest mean
// KLD is named. Within each guilty layer the heads are traced the same way (HeadTrace). The runs use the model's
// per-layer and per-head backend selection (model::AttentionSelection), so the bridge and the backends are those of
// every other suite.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "sageval/eval/backend_comparison.h"
#include "sageval/eval/token_stats.h"
#include "sageval/model/llama_model.h"

namespace sageval::eval {

struct SensitivityRun {
  std::string what;    // "all layers", "only layer 3", "all but layer 3"
  int64_t layer = -1;  // the layer (the head, in a HeadTrace); -1 for the all-layers run
  int64_t tokens = 0;  // scored tokens
  double same_top1 = 0.0, kld_mean = 0.0, kld_max = 0.0;
};

// Within one layer: the candidate in one head only (every other head and layer on the baseline) and in every
// head of the layer but one. Guilty heads by the layer rule, against the candidate-in-this-layer-only run.
struct HeadTrace {
  int64_t layer = -1;
  std::vector<SensitivityRun> only;     // only[h]
  std::vector<SensitivityRun> all_but;  // all_but[h]
  std::vector<int64_t> guilty;
};

struct SensitivityTrace {
  BackendPair pair;
  SensitivityRun all;                   // the candidate in every layer
  std::vector<SensitivityRun> only;     // only[i]: the candidate in layer i only
  std::vector<SensitivityRun> all_but;  // all_but[i]: the candidate everywhere but layer i
  std::vector<int64_t> guilty;          // by the rule in the header comment; ascending
  std::vector<HeadTrace> heads;         // one per guilty layer, when heads were traced
  nlohmann::json to_json() const;
  std::string table() const;  // fixed-width text, one line per run, guilty layers marked
};

// The all-baseline run every trace and plan step is measured against: the windows (inputs, targets int64 [W, T],
// checked; positions >= score_from scored, forward passes of at most max_tokens_per_forward tokens), the
// baseline's logits and targets at the scored positions.
class BaselineRun {
 public:
  // Runs the baseline (the model is left on it). Throws std::invalid_argument, naming `who`, on mismatched shapes
  // or score_from outside [0, T).
  BaselineRun(model::LlamaModel& model, const at::Tensor& inputs, const at::Tensor& targets, int64_t score_from,
              const std::string& baseline, int64_t max_tokens_per_forward, const char* who);
  // `selection` against the baseline on the scored positions; leaves the model on `selection`.
  TokenStatsSummary compare(const model::AttentionSelection& selection) const;

 private:
  model::LlamaModel& model_;
  at::Tensor inputs_, base_, scored_;
  int64_t score_from_, max_tokens_;
};

// Logits of the rows of `inputs` ([W, T]), at most max_tokens_per_forward tokens (whole rows, at least one) per
// forward pass, so that many long windows stay within memory.
at::Tensor forward_in_chunks(const model::LlamaModel& model, const at::Tensor& inputs, int64_t max_tokens_per_forward);

// inputs, targets: int64 [windows, T] (targets[w][t] is the token after inputs[w][t]); positions >= score_from
// are scored. With trace_heads, the heads of every guilty layer are traced too (2 * heads more runs per layer).
// Leaves the model's attention on the all-baseline selection. Throws std::invalid_argument on mismatched shapes
// or score_from outside [0, T).
SensitivityTrace trace_layer_sensitivity(model::LlamaModel& model, const at::Tensor& inputs, const at::Tensor& targets,
                                         int64_t score_from, const BackendPair& pair, bool trace_heads = true,
                                         int64_t max_tokens_per_forward = 65536);

}  // namespace sageval::eval
