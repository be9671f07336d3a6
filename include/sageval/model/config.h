// A Hugging Face `config.json` for LlamaForCausalLM, MistralForCausalLM and Qwen2ForCausalLM, as transformers
// 4.x and 5.x write it. Every field that changes the computation is either implemented or rejected with an
// error naming the field and its value; fields that change nothing in inference are listed and ignored. The
// field-by-field decisions, with the transformers source each follows, are in docs/model-config-fields.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

// Declared only: the parser builds without libtorch (fuzz/); rope.cpp, which computes the tensor, includes ATen.
namespace at {
class Tensor;
}

namespace sageval::model {

struct RopeScaling {
  std::string type;  // "" (none: default RoPE), "linear", "llama3" or "yarn"
  double factor = 1.0;
  double low_freq_factor = 1.0;                     // llama3
  double high_freq_factor = 4.0;                    // llama3
  int64_t original_max_position_embeddings = 8192;  // llama3, yarn
  double beta_fast = 32.0, beta_slow = 1.0;         // yarn
  std::optional<double> attention_factor;           // yarn: given, else derived from factor (and mscale)
  std::optional<double> mscale, mscale_all_dim;     // yarn
  bool truncate = true;                             // yarn
};

enum class Activation { kSilu, kGelu, kGeluTanh, kRelu };

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
  bool qkv_bias = false;  // Qwen2 always; Llama with attention_bias
  bool o_bias = false;    // Llama with attention_bias
  bool mlp_bias = false;  // Llama with mlp_bias
  Activation hidden_act = Activation::kSilu;
  std::string hidden_act_name = "silu";  // as written in config.json
  // Sliding-window attention: a query at position i sees keys j with i - W < j <= i (W keys, itself included).
  // sliding_layers[i] says whether layer i uses it (Mistral: every layer; Qwen2: by layer_types or
  // max_window_layers). Empty when no layer slides.
  std::optional<int64_t> sliding_window;
  std::vector<bool> sliding_layers;
  std::optional<int64_t> bos_token_id, eos_token_id;
  std::string torch_dtype;  // as saved ("float32", "float16", "bfloat16"), informational
  // Keys present that change nothing in inference (documented as ignored), and keys this architecture's
  // transformers class does not read at all: both kept so that a caller can show them.
  std::vector<std::string> ignored_fields, unread_fields;

  bool layer_slides(int64_t layer) const {
    return sliding_window.has_value() && layer < static_cast<int64_t>(sliding_layers.size()) && sliding_layers[layer];
  }
};

// Parses `<folder>/config.json`. Errors name the file, the field and its value (missing, wrong type,
// inconsistent, unknown architecture, or a setting sageval does not implement).
ModelConfig load_config(const std::string& folder);
ModelConfig parse_config(const std::string& json_text, const std::string& source);
std::string config_to_json(const ModelConfig& config);  // for writing test and default models

// RoPE inverse frequencies [head_dim / 2] in float32 with the configured scaling (as Hugging Face computes them).
at::Tensor rope_inverse_frequencies(const ModelConfig& config);
// The factor cos and sin are multiplied by (yarn's attention scaling; 1 for the other types).
double rope_attention_scaling(const ModelConfig& config);

}  // namespace sageval::model
