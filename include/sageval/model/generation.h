// Text generation on a LlamaModel with its KV cache: greedy or temperature sampling with a seed. The attention
// interface has no padding mask, so prompts are grouped by length and each group runs as one batch.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "sageval/model/llama_model.h"

namespace sageval::model {

struct SamplingOptions {
  double temperature = 0.0;  // 0: greedy (argmax)
  uint64_t seed = 0;
  int64_t max_new_tokens = 32;
  std::optional<int64_t> eos;  // stop token (not included in the output)
};

struct Generation {
  std::vector<int64_t> tokens;  // the continuation, without the prompt and without EOS
  bool stopped_at_eos = false;
};

// One result per prompt, in the order given. Deterministic for a fixed seed and a fixed set of prompts.
std::vector<Generation> generate(const LlamaModel& model, const std::vector<std::vector<int64_t>>& prompts,
                                 const SamplingOptions& options);

}  // namespace sageval::model
