#include "sageval/eval/perplexity.h"

#include <cmath>
#include <stdexcept>

namespace sageval::eval {

double NllResult::bits_per_token() const { return nats_per_token() / std::log(2.0); }

void for_each_window_batch(const std::vector<int64_t>& tokens, int64_t context, int64_t batch,
                           const std::function<void(const at::Tensor&, const at::Tensor&)>& fn) {
  if (context < 1) throw std::invalid_argument("context must be at least 1 token");
  if (batch < 1) throw std::invalid_argument("batch must be at least 1");
  if (tokens.size() < 2) throw std::invalid_argument("need at least BOS and one token to score");
  const int64_t n = static_cast<int64_t>(tokens.size());
  at::Tensor all = at::tensor(tokens, at::TensorOptions().dtype(at::kLong));
  // Window w covers inputs [w*context, w*context + len) and targets shifted by one.
  std::vector<int64_t> starts;
  for (int64_t s = 0; s + 1 < n; s += context) starts.push_back(s);
  size_t i = 0;
  while (i < starts.size()) {
    const int64_t len = std::min(context, n - 1 - starts[i]);
    size_t j = i;
    std::vector<at::Tensor> inputs, targets;
    while (j < starts.size() && static_cast<int64_t>(inputs.size()) < batch &&
           std::min(context, n - 1 - starts[j]) == len) {
      inputs.push_back(all.slice(0, starts[j], starts[j] + len));
      targets.push_back(all.slice(0, starts[j] + 1, starts[j] + 1 + len));
      ++j;
    }
    fn(at::stack(inputs), at::stack(targets));
    i = j;
  }
}

NllResult score_disjoint_windows(const model::LlamaModel& model, const std::vector<int64_t>& tokens, int64_t context,
                                 int64_t batch) {
  NllResult result;
  for_each_window_batch(tokens, context, batch, [&](const at::Tensor& inputs, const at::Tensor& targets) {
    at::Tensor logp = at::log_softmax(model.forward(inputs).to(at::kDouble), -1);  // [b, len, vocab]
    result.nll_nats -= logp.gather(-1, targets.to(logp.device()).unsqueeze(-1)).sum().item<double>();
    result.tokens_scored += targets.numel();
  });
  return result;
}

}  // namespace sageval::eval
