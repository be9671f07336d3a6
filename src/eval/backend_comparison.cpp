#include "sageval/eval/backend_comparison.h"

#include "sageval/eval/perplexity.h"
#include "sageval/metrics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

namespace sageval::eval {

void LogitAccumulator::add(const at::Tensor& candidate, const at::Tensor& baseline) {
  at::Tensor a = candidate.to(at::kDouble), b = baseline.to(at::kDouble);
  at::Tensor d = a - b;
  max_abs = std::max(max_abs, d.abs().max().item<double>());
  sum_sq_diff += (d * d).sum().item<double>();
  dot += (a * b).sum().item<double>();
  sum_sq_a += (a * a).sum().item<double>();
  sum_sq_b += (b * b).sum().item<double>();
  count += a.numel();
}

void LogitAccumulator::merge(const LogitAccumulator& o) {
  max_abs = std::max(max_abs, o.max_abs);
  sum_sq_diff += o.sum_sq_diff;
  dot += o.dot;
  sum_sq_a += o.sum_sq_a;
  sum_sq_b += o.sum_sq_b;
  count += o.count;
}

LogitStats LogitAccumulator::stats() const {
  LogitStats s;
  s.max_abs = max_abs;
  s.mse = count ? sum_sq_diff / static_cast<double>(count) : 0.0;
  s.cosine = cosine_from_sums(dot, sum_sq_a, sum_sq_b);
  return s;
}

BackendComparison compare_backends_on_windows(model::LlamaModel& model, const std::vector<int64_t>& tokens,
                                              const WindowProtocol& protocol, const BackendPair& pair,
                                              int64_t batch) {
  BackendComparison out;
  for_each_window_batch(tokens, protocol, batch, [&](const at::Tensor& inputs, const at::Tensor& all_targets,
                                                     int64_t from) {
    model.set_attention(pair.baseline_selection());
    at::Tensor base = model.forward(inputs).slice(1, from);
    model.set_attention(pair.candidate_selection());
    at::Tensor cand = model.forward(inputs).slice(1, from);
    at::Tensor targets = all_targets.slice(1, from);
    const int64_t vocab = base.size(-1);
    out.tokens.add(base.reshape({-1, vocab}), cand.reshape({-1, vocab}), targets.reshape({-1}));
    out.logits.add(cand, base);
    out.windows += inputs.size(0);
  });
  return out;
}

int64_t count_words(const std::string& text) {
  // re.split(r"\s+", text) yields one more piece than there are maximal whitespace runs.
  int64_t runs = 0;
  bool in_space = false;
  for (unsigned char c : text) {
    const bool space = std::isspace(c) != 0;
    if (space && !in_space) ++runs;
    in_space = space;
  }
  return runs + 1;
}

}  // namespace sageval::eval
