// Token-level negative log-likelihood of a text under a model, by the protocol of lm-evaluation-harness's
// rolling log-likelihood: the token sequence (BOS first) is cut into disjoint windows of `context` tokens;
// each window predicts its next `context` tokens, so every token after BOS is scored exactly once, with the
// context reset at each window. For a byte-level model, tokens scored = bytes, and bits per byte =
// NLL / ln 2 / bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sageval/model/llama_model.h"

namespace sageval::eval {

struct NllResult {
  int64_t tokens_scored = 0;
  double nll_nats = 0.0;  // summed over scored tokens
  double nats_per_token() const { return tokens_scored ? nll_nats / static_cast<double>(tokens_scored) : 0.0; }
  double bits_per_token() const;
};

// How a token sequence is cut into windows. Disjoint (stride 0 or stride == context): every window starts
// fresh, as above. Sliding (0 < stride < context): windows of up to `context` tokens start every `stride`
// tokens and each scores only the targets no earlier window scored, so every token is still scored exactly
// once but, after the first window, with at least context - stride tokens of history (the strided protocol of
// Hugging Face's "perplexity of fixed-length models").
struct WindowProtocol {
  int64_t context = 1024;
  int64_t stride = 0;
  bool sliding() const { return stride > 0 && stride < context; }
  std::string describe() const;
};

// Calls `fn(inputs, targets, score_from)` with int64 [b, len] windows (b <= batch windows of equal length and
// equal score_from at a time); only positions >= score_from are to be scored. The one place that cuts a token
// sequence into scored windows.
void for_each_window_batch(
    const std::vector<int64_t>& tokens, const WindowProtocol& protocol, int64_t batch,
    const std::function<void(const at::Tensor& inputs, const at::Tensor& targets, int64_t score_from)>& fn);

// `tokens` holds BOS followed by the text's tokens. Windows of equal length run `batch` at a time.
NllResult score_windows(const model::LlamaModel& model, const std::vector<int64_t>& tokens,
                        const WindowProtocol& protocol, int64_t batch = 1);

}  // namespace sageval::eval
