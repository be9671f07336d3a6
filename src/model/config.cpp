// config.json, field by field (docs/model-config-fields.md has the table and the transformers source behind
// each decision). Order of the checks: what the file is (architecture), what must not be there at all
// (quantization, remote code), then every field the three classes read, then the rest.
#include "sageval/model/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sageval/unique_keys_json.h"

namespace sageval::model {
namespace {

using nlohmann::json;

const std::string kLlama = "LlamaForCausalLM", kMistral = "MistralForCausalLM", kQwen2 = "Qwen2ForCausalLM";

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw std::runtime_error(fmt::format("model config '{}': {}", source, what));
}

// A field that sageval does not implement with a value that changes the computation.
[[noreturn]] void unsupported(const std::string& source, const std::string& field, const json& value,
                              const std::string& why) {
  fail(source, fmt::format("field '{}' = {} is not supported: {}", field, value.dump(), why));
}

bool present(const json& j, const char* key) { return j.contains(key) && !j.at(key).is_null(); }

int64_t required_int(const json& j, const char* key, const std::string& source) {
  if (!j.contains(key)) fail(source, fmt::format("missing field '{}'", key));
  if (!j.at(key).is_number_integer()) fail(source, fmt::format("field '{}' must be an integer, got {}", key, j.at(key).dump()));
  return j.at(key).get<int64_t>();
}

int64_t int_or(const json& j, const char* key, int64_t fallback, const std::string& source) {
  return present(j, key) ? required_int(j, key, source) : fallback;
}

double number_or(const json& j, const char* key, double fallback, const std::string& source) {
  if (!present(j, key)) return fallback;
  if (!j.at(key).is_number()) fail(source, fmt::format("field '{}' must be a number, got {}", key, j.at(key).dump()));
  return j.at(key).get<double>();
}

bool bool_or(const json& j, const char* key, bool fallback, const std::string& source) {
  if (!present(j, key)) return fallback;
  if (!j.at(key).is_boolean()) fail(source, fmt::format("field '{}' must be true or false, got {}", key, j.at(key).dump()));
  return j.at(key).get<bool>();
}

std::optional<int64_t> token_id(const json& j, const char* key) {
  if (!j.contains(key) || !j.at(key).is_number_integer()) return std::nullopt;  // lists (several EOS) not used here
  return j.at(key).get<int64_t>();
}

// Fields every class carries that change nothing in float inference without dropout: initialisation, caching,
// token ids, storage dtype, generation defaults, bookkeeping of transformers itself.
const std::set<std::string>& ignored_fields() {
  static const std::set<std::string> names = {
      "attention_dropout", "initializer_range", "use_cache", "pad_token_id", "bos_token_id", "eos_token_id",
      "torch_dtype", "dtype", "transformers_version", "_name_or_path", "model_type", "architectures",
      "pretraining_tp",  // sliced matmuls before transformers 4.47, unused since: the same products
      "max_position_embeddings",  // not a length limit; read by yarn as its fallback (below)
      "output_attentions", "output_hidden_states", "return_dict", "torchscript", "use_bfloat16", "tie_encoder_decoder",
      "is_encoder_decoder", "is_decoder", "add_cross_attention", "chunk_size_feed_forward", "tokenizer_class",
      "prefix", "sep_token_id", "decoder_start_token_id", "id2label", "label2id", "problem_type",
      "task_specific_params", "finetuning_task", "max_length", "min_length", "do_sample", "early_stopping",
      "num_beams", "num_beam_groups", "diversity_penalty", "temperature", "top_k", "top_p", "typical_p",
      "repetition_penalty", "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size",
      "bad_words_ids", "num_return_sequences", "output_scores", "return_dict_in_generate", "forced_bos_token_id",
      "forced_eos_token_id", "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens",
      "begin_suppress_tokens", "cross_attention_hidden_size", "pruned_heads", "tf_legacy_loss", "architectures"};
  return names;
}

// Fields each class reads (transformers 4.57 / 5.x): anything else in config.json is not read by that class.
const std::set<std::string>& read_fields(const std::string& architecture) {
  static const std::set<std::string> common = {
      "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
      "num_key_value_heads", "head_dim", "hidden_act", "rms_norm_eps", "rope_theta", "rope_scaling",
      "rope_parameters", "partial_rotary_factor", "tie_word_embeddings", "quantization_config", "auto_map"};
  static const std::set<std::string> llama = [] {
    auto s = common;
    s.insert({"attention_bias", "mlp_bias"});
    return s;
  }();
  static const std::set<std::string> mistral = [] {
    auto s = common;
    s.insert({"sliding_window"});
    return s;
  }();
  static const std::set<std::string> qwen2 = [] {
    auto s = common;
    s.insert({"sliding_window", "use_sliding_window", "max_window_layers", "layer_types"});
    return s;
  }();
  return architecture == kLlama ? llama : architecture == kMistral ? mistral : qwen2;
}

Activation parse_activation(const json& j, const std::string& source, std::string& name) {
  name = "silu";
  if (!present(j, "hidden_act")) return Activation::kSilu;
  if (!j.at("hidden_act").is_string()) unsupported(source, "hidden_act", j.at("hidden_act"), "it must be a name");
  name = j.at("hidden_act").get<std::string>();
  // transformers' ACT2FN: silu and swish are the same function; gelu_new and gelu_pytorch_tanh the tanh form.
  if (name == "silu" || name == "swish") return Activation::kSilu;
  if (name == "gelu") return Activation::kGelu;
  if (name == "gelu_pytorch_tanh" || name == "gelu_new") return Activation::kGeluTanh;
  if (name == "relu") return Activation::kRelu;
  unsupported(source, "hidden_act", j.at("hidden_act"),
              "implemented: silu, swish, gelu, gelu_new, gelu_pytorch_tanh, relu");
}

// RoPE, read as transformers 5.x reads either spelling: the scaling dict is rope_scaling when not null, else
// rope_parameters; theta is the dict's rope_theta, else the top-level one, else 10000.
void parse_rope(const json& j, ModelConfig& c, const std::string& source) {
  const char* dict_name = present(j, "rope_scaling") ? "rope_scaling" : present(j, "rope_parameters") ? "rope_parameters" : nullptr;
  const json empty = json::object();
  const json& r = dict_name ? j.at(dict_name) : empty;
  if (!r.is_object()) unsupported(source, dict_name, r, "it must be an object");
  for (const auto& [key, value] : r.items())
    if (value.is_object())
      unsupported(source, std::string(dict_name) + "." + key, value,
                  "RoPE parameters per layer type are not used by Llama, Mistral or Qwen2");
  c.rope_theta = number_or(r, "rope_theta", number_or(j, "rope_theta", 10000.0, source), source);
  const double partial = number_or(r, "partial_rotary_factor", number_or(j, "partial_rotary_factor", 1.0, source), source);
  if (partial != 1.0)
    unsupported(source, "partial_rotary_factor", json(partial), "these architectures rotate the whole head");
  std::string type = "default";
  if (r.contains("rope_type") && r.at("rope_type").is_string()) type = r.at("rope_type").get<std::string>();
  else if (r.contains("type") && r.at("type").is_string()) type = r.at("type").get<std::string>();
  const std::string field = std::string(dict_name ? dict_name : "rope_scaling") + ".rope_type";
  RopeScaling& s = c.rope_scaling;
  if (type == "default") return;
  if (type != "linear" && type != "llama3" && type != "yarn")
    unsupported(source, field, json(type),
                type == "dynamic" ? "its frequencies depend on the whole sequence length and change between calls"
                                  : "implemented: default, linear, llama3, yarn");
  s.type = type;
  if (!r.contains("factor") || !r.at("factor").is_number())
    fail(source, fmt::format("{}.factor is required for rope_type '{}'", dict_name, type));
  s.factor = r.at("factor").get<double>();
  if (type == "llama3") {
    for (const char* k : {"low_freq_factor", "high_freq_factor", "original_max_position_embeddings"})
      if (!r.contains(k)) fail(source, fmt::format("{}.{} is required for rope_type 'llama3'", dict_name, k));
    s.low_freq_factor = number_or(r, "low_freq_factor", 1.0, source);
    s.high_freq_factor = number_or(r, "high_freq_factor", 4.0, source);
    s.original_max_position_embeddings = static_cast<int64_t>(number_or(r, "original_max_position_embeddings", 8192, source));
  } else if (type == "yarn") {
    // transformers >= 4.56: an explicit factor wins; the original length falls back to max_position_embeddings.
    s.original_max_position_embeddings = static_cast<int64_t>(
        number_or(r, "original_max_position_embeddings", static_cast<double>(c.max_position_embeddings), source));
    if (s.original_max_position_embeddings <= 0)
      fail(source, "rope_type 'yarn' needs original_max_position_embeddings or max_position_embeddings");
    // transformers reads these with `or`: 0 (or null) takes the default.
    s.beta_fast = number_or(r, "beta_fast", 32.0, source);
    if (s.beta_fast == 0.0) s.beta_fast = 32.0;
    s.beta_slow = number_or(r, "beta_slow", 1.0, source);
    if (s.beta_slow == 0.0) s.beta_slow = 1.0;
    if (present(r, "attention_factor")) s.attention_factor = number_or(r, "attention_factor", 1.0, source);
    if (present(r, "mscale")) s.mscale = number_or(r, "mscale", 1.0, source);
    if (present(r, "mscale_all_dim")) s.mscale_all_dim = number_or(r, "mscale_all_dim", 0.0, source);
    s.truncate = bool_or(r, "truncate", true, source);
  }
}

// Mistral: one window for every layer, or none. Qwen2: a window only with use_sliding_window, on the layers
// that layer_types names (else those from max_window_layers up).
void parse_sliding_window(const json& j, ModelConfig& c, const std::string& source) {
  if (c.architecture == kLlama) return;  // LlamaForCausalLM reads none of these fields
  // A missing key takes the class default (4096); an explicit null means no window.
  if (c.architecture == kMistral) {
    if (j.contains("sliding_window") && j.at("sliding_window").is_null()) return;
    c.sliding_window = int_or(j, "sliding_window", 4096, source);
    c.sliding_layers.assign(static_cast<size_t>(c.num_layers), true);
  } else {
    const bool use = bool_or(j, "use_sliding_window", false, source);
    if (use && !(j.contains("sliding_window") && j.at("sliding_window").is_null()))
      c.sliding_window = int_or(j, "sliding_window", 4096, source);
    std::vector<bool> layers(static_cast<size_t>(c.num_layers), false);
    if (present(j, "layer_types")) {
      const json& types = j.at("layer_types");
      if (!types.is_array() || static_cast<int64_t>(types.size()) != c.num_layers)
        fail(source, fmt::format("field 'layer_types' must list one type per layer ({}), got {}", c.num_layers, types.dump()));
      for (size_t i = 0; i < types.size(); ++i) {
        const std::string t = types[i].is_string() ? types[i].get<std::string>() : types[i].dump();
        if (t == "sliding_attention") layers[i] = true;
        else if (t != "full_attention")
          unsupported(source, fmt::format("layer_types[{}]", i), types[i], "known: full_attention, sliding_attention");
      }
      if (!use && std::find(layers.begin(), layers.end(), true) != layers.end())
        fail(source, "field 'layer_types' names sliding_attention layers but use_sliding_window is false "
                     "(transformers refuses this configuration too)");
    } else if (use) {
      const int64_t from = int_or(j, "max_window_layers", 28, source);
      for (int64_t i = from; i < c.num_layers; ++i) layers[static_cast<size_t>(i)] = true;
    }
    if (c.sliding_window) c.sliding_layers = layers;
  }
  if (c.sliding_window && *c.sliding_window <= 0)
    fail(source, fmt::format("field 'sliding_window' must be positive, got {}", *c.sliding_window));
  if (std::find(c.sliding_layers.begin(), c.sliding_layers.end(), true) == c.sliding_layers.end()) {
    c.sliding_window.reset();
    c.sliding_layers.clear();
  }
}

}  // namespace

ModelConfig parse_config(const std::string& text, const std::string& source) {
  json j;
  std::string duplicate;
  try {
    j = parse_json_unique_keys(text.data(), text.data() + text.size(), duplicate);
  } catch (const json::exception& e) {
    fail(source, fmt::format("not valid JSON: {}", e.what()));
  }
  if (!duplicate.empty()) fail(source, fmt::format("field '{}' is given more than once", duplicate));
  if (!j.is_object()) fail(source, "not a JSON object");
  ModelConfig c;
  if (!j.contains("architectures") || !j.at("architectures").is_array() || j.at("architectures").empty() ||
      !j.at("architectures")[0].is_string())
    fail(source, "missing field 'architectures'");
  c.architecture = j.at("architectures")[0].get<std::string>();
  if (c.architecture != kLlama && c.architecture != kMistral && c.architecture != kQwen2)
    fail(source, fmt::format("unknown architecture '{}' (supported: LlamaForCausalLM, MistralForCausalLM, "
                             "Qwen2ForCausalLM)", c.architecture));
  const std::string model_type = c.architecture == kLlama ? "llama" : c.architecture == kMistral ? "mistral" : "qwen2";
  if (present(j, "model_type") && j.at("model_type") != model_type)
    fail(source, fmt::format("field 'model_type' = {} does not match architecture {} (expected \"{}\")",
                             j.at("model_type").dump(), c.architecture, model_type));
  if (present(j, "quantization_config"))
    unsupported(source, "quantization_config", j.at("quantization_config"), "the weights must be plain F32/F16/BF16");
  if (present(j, "auto_map"))
    unsupported(source, "auto_map", j.at("auto_map"), "it loads custom model code, whose computation sageval cannot know");

  c.vocab_size = required_int(j, "vocab_size", source);
  c.hidden_size = required_int(j, "hidden_size", source);
  c.intermediate_size = required_int(j, "intermediate_size", source);
  c.num_layers = required_int(j, "num_hidden_layers", source);
  c.num_heads = required_int(j, "num_attention_heads", source);
  // A missing key takes each class's own default (Llama: the head count; Mistral 8; Qwen2 32); null: the heads.
  const int64_t kv_default = !j.contains("num_key_value_heads") && c.architecture == kMistral ? 8
                             : !j.contains("num_key_value_heads") && c.architecture == kQwen2 ? 32
                                                                                              : c.num_heads;
  c.num_kv_heads = int_or(j, "num_key_value_heads", kv_default, source);
  c.head_dim = int_or(j, "head_dim", c.num_heads > 0 ? c.hidden_size / c.num_heads : 0, source);
  // Not a length limit; yarn's fallback for its original length. Class defaults: 2048, 4096 * 32, 32768.
  c.max_position_embeddings = int_or(j, "max_position_embeddings",
                                     c.architecture == kLlama ? 2048 : c.architecture == kMistral ? 131072 : 32768, source);
  c.rms_norm_eps = number_or(j, "rms_norm_eps", 1e-6, source);
  c.tie_word_embeddings = bool_or(j, "tie_word_embeddings", false, source);
  c.hidden_act = parse_activation(j, source, c.hidden_act_name);
  // Biases: Llama's attention_bias puts one on q, k, v and o, its mlp_bias on gate, up and down; Qwen2 always has
  // q/k/v biases and never others; Mistral none. A bias flag a class ignores would drop trained tensors.
  if (c.architecture == kLlama) {
    c.qkv_bias = c.o_bias = bool_or(j, "attention_bias", false, source);
    c.mlp_bias = bool_or(j, "mlp_bias", false, source);
  } else {
    c.qkv_bias = c.architecture == kQwen2;
    for (const char* flag : {"attention_bias", "mlp_bias"})
      if (bool_or(j, flag, false, source))
        unsupported(source, flag, j.at(flag), fmt::format("{} has no such biases (transformers would ignore the tensors)",
                                                          c.architecture));
  }
  c.bos_token_id = token_id(j, "bos_token_id");
  c.eos_token_id = token_id(j, "eos_token_id");
  for (const char* k : {"dtype", "torch_dtype"})
    if (j.contains(k) && j.at(k).is_string()) c.torch_dtype = j.at(k).get<std::string>();
  parse_rope(j, c, source);
  if (c.vocab_size <= 0 || c.hidden_size <= 0 || c.intermediate_size <= 0 || c.num_layers <= 0 || c.num_heads <= 0 ||
      c.num_kv_heads <= 0 || c.head_dim <= 0)
    fail(source, "sizes must be positive");
  if (c.num_heads % c.num_kv_heads != 0)
    fail(source, fmt::format("num_attention_heads ({}) is not a multiple of num_key_value_heads ({})", c.num_heads,
                             c.num_kv_heads));
  if (c.head_dim % 2 != 0) fail(source, fmt::format("head_dim ({}) must be even for RoPE", c.head_dim));
  parse_sliding_window(j, c, source);

  const auto& reads = read_fields(c.architecture);
  for (const auto& [key, value] : j.items()) {
    if (reads.count(key) != 0) continue;
    (ignored_fields().count(key) != 0 ? c.ignored_fields : c.unread_fields).push_back(key);
  }
  return c;
}

ModelConfig load_config(const std::string& folder) {
  const std::string path = folder + "/config.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("model folder '{}' has no readable config.json", folder));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

std::string config_to_json(const ModelConfig& c) {
  json j = {{"architectures", {c.architecture}},
            {"model_type", c.architecture == kQwen2 ? "qwen2" : c.architecture == kMistral ? "mistral" : "llama"},
            {"vocab_size", c.vocab_size},
            {"hidden_size", c.hidden_size},
            {"intermediate_size", c.intermediate_size},
            {"num_hidden_layers", c.num_layers},
            {"num_attention_heads", c.num_heads},
            {"num_key_value_heads", c.num_kv_heads},
            {"head_dim", c.head_dim},
            {"max_position_embeddings", c.max_position_embeddings},
            {"rope_theta", c.rope_theta},
            {"rms_norm_eps", c.rms_norm_eps},
            {"tie_word_embeddings", c.tie_word_embeddings},
            {"hidden_act", c.hidden_act_name},
            {"torch_dtype", c.torch_dtype.empty() ? "float32" : c.torch_dtype}};
  if (c.architecture == kLlama) {
    j["attention_bias"] = c.qkv_bias;
    j["mlp_bias"] = c.mlp_bias;
  }
  if (c.bos_token_id) j["bos_token_id"] = *c.bos_token_id;
  if (c.eos_token_id) j["eos_token_id"] = *c.eos_token_id;
  if (c.architecture == kMistral && !c.sliding_window) j["sliding_window"] = nullptr;  // a missing key means 4096
  if (c.sliding_window) {
    j["sliding_window"] = *c.sliding_window;
    if (c.architecture == kQwen2) {
      j["use_sliding_window"] = true;
      json types = json::array();
      for (bool s : c.sliding_layers) types.push_back(s ? "sliding_attention" : "full_attention");
      j["layer_types"] = types;
    }
  }
  const RopeScaling& s = c.rope_scaling;
  if (!s.type.empty()) {
    json r = {{"rope_type", s.type}, {"factor", s.factor}};
    if (s.type == "llama3") {
      r["low_freq_factor"] = s.low_freq_factor;
      r["high_freq_factor"] = s.high_freq_factor;
      r["original_max_position_embeddings"] = s.original_max_position_embeddings;
    } else if (s.type == "yarn") {
      r["original_max_position_embeddings"] = s.original_max_position_embeddings;
      r["beta_fast"] = s.beta_fast;
      r["beta_slow"] = s.beta_slow;
      r["truncate"] = s.truncate;
      if (s.attention_factor) r["attention_factor"] = *s.attention_factor;
      if (s.mscale) r["mscale"] = *s.mscale;
      if (s.mscale_all_dim) r["mscale_all_dim"] = *s.mscale_all_dim;
    }
    j["rope_scaling"] = r;
  }
  return j.dump(2);
}

}  // namespace sageval::model
