// Tiny random Llama-family checkpoints written with our own safetensors writer, for the model-runner tests.
#pragma once

#include <map>
#include <string>

#include <ATen/ATen.h>

#include "sageval/model/config.h"

namespace sageval::testing {

// A small config: vocab 258+ (byte-level ids, BOS 256, EOS 257), 2 layers, head dim 64, GQA 2.
model::ModelConfig tiny_config(const std::string& architecture = "LlamaForCausalLM");

// Random weights (seeded) for `config`, named as Hugging Face names them.
std::map<std::string, at::Tensor> tiny_weights(const model::ModelConfig& config, uint64_t seed,
                                               at::ScalarType dtype = at::kFloat);

// Writes config.json and model.safetensors (or, with shards > 1, an index and that many shards) into `folder`
// (created), and returns the folder.
std::string write_tiny_model(const std::string& folder, const model::ModelConfig& config,
                             const std::map<std::string, at::Tensor>& weights, int shards = 1);

}  // namespace sageval::testing
