// The subset of a Hugging Face `config.json` that a Llama-family decoder needs, for LlamaForCausalLM,
// MistralForCausalLM and Qwen2ForCausalLM (the last with biases on the q/k/v projections).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <ATen/ATen.h>

namespace sageval::model {

struct RopeScaling {
  std::string type;  // "" (none), "linear" or "llama3"
  double factor = 1.0;
  double low_freq_factor = 1.0;               // llama3
  double high_freq_factor = 4.0;              // llama3
  int64_t original_max_position_embeddings = 8192;  // llama3
};

struct ModelConfig {
  std::string architecture;  // LlamaForCausalLM | MistralForCausalLM | Qwen2ForCausalLM
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;  // hidden_size / num_heads unless given
  int64_t max_position_embeddings = 0;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  // Qwen2; or "attention_bias" in Llama configs
  std::optional<int64_t> bos_token_id, eos_token_id;
  std::string torch_dtype;  // as saved ("float32", "float16", "bfloat16"), informational
};

// Parses `<folder>/config.json`. Errors name the file and the field (missing, wrong type, inconsistent head
// counts, unknown architecture or rope_scaling type).
ModelConfig load_config(const std::string& folder);
ModelConfig parse_config(const std::string& json_text, const std::string& source);
std::string config_to_json(const ModelConfig& config);  // for writing test and default models

// RoPE inverse frequencies [head_dim / 2] in float32 with the configured scaling (as Hugging Face computes them).
at::Tensor rope_inverse_frequencies(const ModelConfig& config);

}  // namespace sageval::model
