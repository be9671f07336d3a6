#include "sageval/eval/perplexity.h"

#include <cmath>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

namespace sageval::eval {

double NllResult::bits_per_token() const { return nats_per_token() / std::log(2.0); }

std::string WindowProtocol::describe() const {
  if (!sliding())
    return fmt::format("BOS, then disjoint windows of {} tokens, every token scored once (lm-evaluation-harness "
                       "rolling log-likelihood)", context);
  return fmt::format("BOS, then windows of {} tokens every {} tokens, each scoring only tokens not scored before "
                     "(sliding window: every token scored once with >= {} tokens of history after the first "
                     "window)", context, stride, context - stride);
}

void for_each_window_batch(
    const std::vector<int64_t>& tokens, const WindowProtocol& protocol, int64_t batch,
    const std::function<void(const at::Tensor& inputs, const at::Tensor& targets, int64_t score_from)>& fn) {
  const int64_t context = protocol.context;
  if (context < 1) throw std::invalid_argument("context must be at least 1 token");
  if (protocol.stride < 0) throw std::invalid_argument("stride must not be negative");
  if (batch < 1) throw std::invalid_argument("batch must be at least 1");
  if (tokens.size() < 2) throw std::invalid_argument("need at least BOS and one token to score");
  const int64_t positions = static_cast<int64_t>(tokens.size()) - 1;  // input positions, each predicts the next
  const int64_t step = protocol.sliding() ? protocol.stride : context;
  at::Tensor all = at::tensor(tokens, at::TensorOptions().dtype(at::kLong));
  struct Window {
    int64_t start, len, score_from;
  };
  // Window w covers inputs [start, start + len) and targets shifted by one; positions before `scored_to` were
  // scored by earlier windows.
  std::vector<Window> windows;
  for (int64_t start = 0, scored_to = 0; scored_to < positions; start += step) {
    const int64_t end = std::min(start + context, positions);
    windows.push_back({start, end - start, scored_to - start});
    scored_to = end;
  }
  size_t i = 0;
  while (i < windows.size()) {
    const Window& first = windows[i];
    size_t j = i;
    std::vector<at::Tensor> inputs, targets;
    while (j < windows.size() && static_cast<int64_t>(inputs.size()) < batch && windows[j].len == first.len &&
           windows[j].score_from == first.score_from) {
      inputs.push_back(all.slice(0, windows[j].start, windows[j].start + windows[j].len));
      targets.push_back(all.slice(0, windows[j].start + 1, windows[j].start + 1 + windows[j].len));
      ++j;
    }
    fn(at::stack(inputs), at::stack(targets), first.score_from);
    i = j;
  }
}

NllResult score_windows(const model::LlamaModel& model, const std::vector<int64_t>& tokens,
                        const WindowProtocol& protocol, int64_t batch) {
  NllResult result;
  for_each_window_batch(tokens, protocol, batch, [&](const at::Tensor& inputs, const at::Tensor& targets, int64_t from) {
    at::Tensor logp = at::log_softmax(model.forward(inputs).slice(1, from).to(at::kDouble), -1);  // [b, len, vocab]
    at::Tensor scored = targets.slice(1, from);
    result.nll_nats -= logp.gather(-1, scored.to(logp.device()).unsqueeze(-1)).sum().item<double>();
    result.tokens_scored += scored.numel();
  });
  return result;
}

}  // namespace sageval::eval
