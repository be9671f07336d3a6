#include "sageval/model/generation.h"

#include <map>
#include <stdexcept>

namespace sageval::model {
namespace {

// Next token per row of float32 logits [G, vocab]: greedy on the logits' device (no host round trip), sampled
// on the CPU with the seeded generator.
at::Tensor sample(const at::Tensor& logits, const SamplingOptions& opt, at::Generator& gen) {
  if (opt.temperature <= 0.0) return logits.argmax(-1);
  at::Tensor probs = at::softmax(logits.to(at::kCPU).to(at::kDouble) / opt.temperature, -1);
  return at::multinomial(probs, 1, /*replacement=*/false, gen).squeeze(-1);
}

// Whether every row has picked the stop token: `stopped` (bool [G], host; undefined before the first check) is
// updated with the picks since the last check, so each pick is copied to the host and looked at once.
bool all_stopped(at::Tensor& stopped, const std::vector<at::Tensor>& picked, size_t& checked, int64_t eos) {
  const at::Tensor recent = at::stack(at::TensorList(picked).slice(checked), 1).cpu();  // [G, new steps]
  checked = picked.size();
  const at::Tensor hit = (recent == eos).any(1);
  stopped = stopped.defined() ? stopped.logical_or(hit) : hit;
  return stopped.all().item<bool>();
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
  // On a GPU the picks stay on the device and the stop token is looked for every 16 steps (one copy to the
  // host each): a decode step never waits for the host.
  const int64_t stop_check_every = model.device().is_cuda() ? 16 : 1;
  for (const auto& [length, members] : by_length) {
    const int64_t g = static_cast<int64_t>(members.size()), len = static_cast<int64_t>(length);
    at::Tensor batch = at::empty({g, len}, at::kLong);
    for (int64_t r = 0; r < g; ++r)
      batch[r].copy_(at::tensor(prompts[members[r]], at::TensorOptions().dtype(at::kLong)));
    KVCache cache = model.make_cache(g, len + std::max<int64_t>(opt.max_new_tokens, 1));
    at::Tensor logits = model.forward(batch, &cache).select(1, len - 1);
    std::vector<at::Tensor> picked;  // [G] per step
    at::Tensor stopped;
    size_t checked = 0;
    for (int64_t step = 0; step < opt.max_new_tokens; ++step) {
      at::Tensor next = sample(logits, opt, gen);
      picked.push_back(next);
      if (step + 1 == opt.max_new_tokens) break;
      if (opt.eos && (step + 1) % stop_check_every == 0 && all_stopped(stopped, picked, checked, *opt.eos)) break;
      logits = model.decode(next.view({g, 1}), cache);
    }
    if (picked.empty()) continue;
    const at::Tensor picks = at::stack(picked, 1).cpu();  // [G, steps]
    const auto p = picks.accessor<int64_t, 2>();
    for (int64_t r = 0; r < g; ++r) {
      Generation& out = results[members[r]];
      for (int64_t s = 0; s < picks.size(1); ++s) {
        if (opt.eos && p[r][s] == *opt.eos) {
          out.stopped_at_eos = true;
          break;
        }
        out.tokens.push_back(p[r][s]);
      }
    }
  }
  return results;
}

}  // namespace sageval::model
