#include "sageval/model/config.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace sageval::model {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw std::runtime_error(fmt::format("model config '{}': {}", source, what));
}

int64_t required_int(const json& j, const char* key, const std::string& source) {
  if (!j.contains(key)) fail(source, fmt::format("missing field '{}'", key));
  if (!j.at(key).is_number_integer()) fail(source, fmt::format("field '{}' must be an integer", key));
  return j.at(key).get<int64_t>();
}

double number_or(const json& j, const char* key, double fallback, const std::string& source) {
  if (!j.contains(key) || j.at(key).is_null()) return fallback;
  if (!j.at(key).is_number()) fail(source, fmt::format("field '{}' must be a number", key));
  return j.at(key).get<double>();
}

std::optional<int64_t> token_id(const json& j, const char* key) {
  if (!j.contains(key) || !j.at(key).is_number_integer()) return std::nullopt;  // lists (several EOS) not used here
  return j.at(key).get<int64_t>();
}

}  // namespace

ModelConfig parse_config(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail(source, fmt::format("not valid JSON: {}", e.what()));
  }
  if (!j.is_object()) fail(source, "not a JSON object");
  ModelConfig c;
  if (!j.contains("architectures") || !j.at("architectures").is_array() || j.at("architectures").empty())
    fail(source, "missing field 'architectures'");
  c.architecture = j.at("architectures")[0].get<std::string>();
  if (c.architecture != "LlamaForCausalLM" && c.architecture != "MistralForCausalLM" &&
      c.architecture != "Qwen2ForCausalLM")
    fail(source, fmt::format("unknown architecture '{}' (supported: LlamaForCausalLM, MistralForCausalLM, "
                             "Qwen2ForCausalLM)",
                             c.architecture));
  c.vocab_size = required_int(j, "vocab_size", source);
  c.hidden_size = required_int(j, "hidden_size", source);
  c.intermediate_size = required_int(j, "intermediate_size", source);
  c.num_layers = required_int(j, "num_hidden_layers", source);
  c.num_heads = required_int(j, "num_attention_heads", source);
  c.num_kv_heads = j.contains("num_key_value_heads") && !j.at("num_key_value_heads").is_null()
                       ? required_int(j, "num_key_value_heads", source)
                       : c.num_heads;
  c.head_dim = j.contains("head_dim") && !j.at("head_dim").is_null() ? required_int(j, "head_dim", source)
                                                                     : (c.num_heads ? c.hidden_size / c.num_heads : 0);
  c.max_position_embeddings = j.contains("max_position_embeddings") ? required_int(j, "max_position_embeddings", source) : 0;
  // transformers 5 moved rope_theta and the scaling into "rope_parameters"; older configs have them at the top
  // level and in "rope_scaling".
  const json* rope_params = j.contains("rope_parameters") && j.at("rope_parameters").is_object() ? &j.at("rope_parameters") : nullptr;
  c.rope_theta = number_or(j, "rope_theta", rope_params ? number_or(*rope_params, "rope_theta", 10000.0, source) : 10000.0, source);
  c.rms_norm_eps = number_or(j, "rms_norm_eps", 1e-6, source);
  c.tie_word_embeddings = j.value("tie_word_embeddings", false);
  c.qkv_bias = c.architecture == "Qwen2ForCausalLM" || j.value("attention_bias", false);
  c.bos_token_id = token_id(j, "bos_token_id");
  c.eos_token_id = token_id(j, "eos_token_id");
  if (j.contains("torch_dtype") && j.at("torch_dtype").is_string()) c.torch_dtype = j.at("torch_dtype").get<std::string>();
  const json* scaling = j.contains("rope_scaling") && !j.at("rope_scaling").is_null() ? &j.at("rope_scaling") : rope_params;
  if (scaling != nullptr) {
    const json& r = *scaling;
    std::string type = r.value("rope_type", r.value("type", std::string("default")));
    if (type != "linear" && type != "llama3" && type != "default")
      fail(source, fmt::format("rope_scaling type '{}' is not supported (supported: linear, llama3)", type));
    if (type != "default") {
      c.rope_scaling.type = type;
      c.rope_scaling.factor = number_or(r, "factor", 1.0, source);
      c.rope_scaling.low_freq_factor = number_or(r, "low_freq_factor", 1.0, source);
      c.rope_scaling.high_freq_factor = number_or(r, "high_freq_factor", 4.0, source);
      c.rope_scaling.original_max_position_embeddings =
          static_cast<int64_t>(number_or(r, "original_max_position_embeddings", 8192, source));
    }
  }
  if (c.vocab_size <= 0 || c.hidden_size <= 0 || c.intermediate_size <= 0 || c.num_layers <= 0 || c.num_heads <= 0 ||
      c.num_kv_heads <= 0 || c.head_dim <= 0)
    fail(source, "sizes must be positive");
  if (c.num_heads % c.num_kv_heads != 0)
    fail(source, fmt::format("num_attention_heads ({}) is not a multiple of num_key_value_heads ({})", c.num_heads,
                             c.num_kv_heads));
  if (c.head_dim % 2 != 0) fail(source, fmt::format("head_dim ({}) must be even for RoPE", c.head_dim));
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
            {"model_type", c.architecture == "Qwen2ForCausalLM" ? "qwen2"
                           : c.architecture == "MistralForCausalLM" ? "mistral" : "llama"},
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
            {"hidden_act", "silu"},
            {"torch_dtype", c.torch_dtype.empty() ? "float32" : c.torch_dtype}};
  if (c.architecture == "LlamaForCausalLM") j["attention_bias"] = c.qkv_bias;
  if (c.bos_token_id) j["bos_token_id"] = *c.bos_token_id;
  if (c.eos_token_id) j["eos_token_id"] = *c.eos_token_id;
  if (!c.rope_scaling.type.empty()) {
    j["rope_scaling"] = {{"rope_type", c.rope_scaling.type}, {"factor", c.rope_scaling.factor}};
    if (c.rope_scaling.type == "llama3") {
      j["rope_scaling"]["low_freq_factor"] = c.rope_scaling.low_freq_factor;
      j["rope_scaling"]["high_freq_factor"] = c.rope_scaling.high_freq_factor;
      j["rope_scaling"]["original_max_position_embeddings"] = c.rope_scaling.original_max_position_embeddings;
    }
  }
  return j.dump(2);
}

at::Tensor rope_inverse_frequencies(const ModelConfig& c) {
  // inv_freq[i] = theta^(-2i / d), in float32 as transformers computes it.
  at::Tensor exponent = at::arange(0, c.head_dim, 2, at::TensorOptions().dtype(at::kLong)).to(at::kFloat) /
                        static_cast<float>(c.head_dim);
  at::Tensor inv_freq = 1.0 / at::pow(static_cast<double>(c.rope_theta), exponent);
  const RopeScaling& s = c.rope_scaling;
  if (s.type == "linear") return inv_freq / s.factor;
  if (s.type == "llama3") {
    // Long wavelengths are slowed by `factor`, short ones kept, the band between interpolated smoothly.
    const double old_len = static_cast<double>(s.original_max_position_embeddings);
    const double low_wavelen = old_len / s.low_freq_factor, high_wavelen = old_len / s.high_freq_factor;
    at::Tensor wavelen = 2.0 * M_PI / inv_freq;
    at::Tensor scaled = at::where(wavelen > low_wavelen, inv_freq / s.factor, inv_freq);
    at::Tensor smooth = (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
    at::Tensor medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen);
    return at::where(medium, smoothed, scaled);
  }
  return inv_freq;
}

}  // namespace sageval::model
