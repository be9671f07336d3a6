// Token-level negative log-likelihood of a text under a model, by the protocol of lm-evaluation-harness's
// rolling log-likelihood: the token sequence (BOS first) is cut into disjoint windows of `context` tokens;
// each window predicts its next `context` tokens, so every token after BOS is scored exactly once, with the
// context reset at each window. For a byte-level model, tokens scored = bytes, and bits per byte =
// NLL / ln 2 / bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "sageval/model/llama_model.h"

namespace sageval::eval {

struct NllResult {
  int64_t tokens_scored = 0;
  double nll_nats = 0.0;  // summed over scored tokens
  double nats_per_token() const { return tokens_scored ? nll_nats / static_cast<double>(tokens_scored) : 0.0; }
  double bits_per_token() const;
};

// Calls `fn(inputs, targets)` for the disjoint windows of `tokens` (int64 [b, len] each, b <= batch windows of
// equal length at a time): the one place that cuts a token sequence into scored windows.
void for_each_window_batch(const std::vector<int64_t>& tokens, int64_t context, int64_t batch,
                           const std::function<void(const at::Tensor& inputs, const at::Tensor& targets)>& fn);

// `tokens` holds BOS followed by the text's tokens. Windows of equal length run `batch` at a time.
NllResult score_disjoint_windows(const model::LlamaModel& model, const std::vector<int64_t>& tokens, int64_t context,
                                 int64_t batch = 1);

}  // namespace sageval::eval
