#include "sageval/model/generation.h"

#include <map>
#include <stdexcept>

namespace sageval::model {
namespace {

// Next token per row of float32 logits [G, vocab].
at::Tensor sample(const at::Tensor& logits, const SamplingOptions& opt, at::Generator& gen) {
  at::Tensor l = logits.to(at::kCPU).to(at::kDouble);
  if (opt.temperature <= 0.0) return l.argmax(-1);
  at::Tensor probs = at::softmax(l / opt.temperature, -1);
  return at::multinomial(probs, 1, /*replacement=*/false, gen).squeeze(-1);
}

}  // namespace

std::vector<Generation> generate(const LlamaModel& model, const std::vector<std::vector<int64_t>>& prompts,
                                 const SamplingOptions& opt) {
  if (opt.max_new_tokens < 0) throw std::invalid_argument("max_new_tokens must be >= 0");
  std::map<size_t, std::vector<size_t>> by_length;
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty()) throw std::invalid_argument("prompt " + std::to_string(i) + " is empty");
    by_length[prompts[i].size()].push_back(i);
  }
  std::vector<Generation> results(prompts.size());
  at::Generator gen = at::detail::createCPUGenerator(opt.seed);
  for (const auto& [length, members] : by_length) {
    const int64_t g = static_cast<int64_t>(members.size()), len = static_cast<int64_t>(length);
    at::Tensor batch = at::empty({g, len}, at::kLong);
    for (int64_t r = 0; r < g; ++r)
      batch[r].copy_(at::tensor(prompts[members[r]], at::TensorOptions().dtype(at::kLong)));
    KVCache cache = model.make_cache(g, len + std::max<int64_t>(opt.max_new_tokens, 1));
    at::Tensor logits = model.forward(batch, &cache).select(1, len - 1);
    std::vector<bool> done(g, false);
    for (int64_t step = 0; step < opt.max_new_tokens; ++step) {
      at::Tensor next = sample(logits, opt, gen);
      bool all_done = true;
      for (int64_t r = 0; r < g; ++r) {
        if (done[r]) continue;
        const int64_t tok = next[r].item<int64_t>();
        Generation& out = results[members[r]];
        if (opt.eos && tok == *opt.eos) {
          done[r] = true;
          out.stopped_at_eos = true;
        } else {
          out.tokens.push_back(tok);
        }
        all_done = all_done && done[r];
      }
      if (all_done || step + 1 == opt.max_new_tokens) break;
      logits = model.forward(next.view({g, 1}), &cache).select(1, 0);
    }
  }
  return results;
}

}  // namespace sageval::model
