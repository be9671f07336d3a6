// Runs one model over a text twice per window, once with a baseline attention backend and once with a
// candidate, and gathers the per-token statistics of token_stats.h plus logit-level differences. Windows as in
// perplexity.h (disjoint or sliding), every token scored once.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sageval/eval/perplexity.h"
#include "sageval/eval/token_stats.h"
#include "sageval/model/llama_model.h"

namespace sageval::eval {

struct BackendPair {
  std::string baseline;
  std::string candidate;
  // Layers where the candidate side runs another backend (a precision plan, eval/precision_plan.h); empty: the
  // candidate in every layer.
  std::map<int64_t, std::string> candidate_layer_backend;

  model::AttentionSelection baseline_selection() const { return {baseline, {}}; }
  model::AttentionSelection candidate_selection() const { return {candidate, candidate_layer_backend}; }
};

// Logit differences accumulated over every scored position (float64 sums).
struct LogitAccumulator {
  double max_abs = 0.0, sum_sq_diff = 0.0, dot = 0.0, sum_sq_a = 0.0, sum_sq_b = 0.0;
  int64_t count = 0;
  void add(const at::Tensor& candidate, const at::Tensor& baseline);
  void merge(const LogitAccumulator& other);
  LogitStats stats() const;
};

struct BackendComparison {
  TokenComparison tokens;
  LogitAccumulator logits;
  int64_t windows = 0;
};

// Leaves the model's attention set to the candidate selection.
BackendComparison compare_backends_on_windows(model::LlamaModel& model, const std::vector<int64_t>& tokens,
                                              const WindowProtocol& protocol, const BackendPair& pair,
                                              int64_t batch = 1);

// Words as lm-evaluation-harness counts them for word perplexity: len(re.split(r"\s+", text)).
int64_t count_words(const std::string& text);

}  // namespace sageval::eval
