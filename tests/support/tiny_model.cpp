#include "support/tiny_model.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sageval/model/safetensors.h"

namespace sageval::testing {

model::ModelConfig tiny_config(const std::string& architecture) {
  model::ModelConfig c;
  c.architecture = architecture;
  c.vocab_size = 320;
  c.hidden_size = 128;
  c.intermediate_size = 256;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 64;
  c.max_position_embeddings = 2048;
  c.rope_theta = 10000.0;
  c.rms_norm_eps = 1e-5;
  c.tie_word_embeddings = false;
  c.qkv_bias = architecture == "Qwen2ForCausalLM";
  c.bos_token_id = 256;
  c.eos_token_id = 257;
  return c;
}

std::map<std::string, at::Tensor> tiny_weights(const model::ModelConfig& c, uint64_t seed, at::ScalarType dtype) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  auto normal = [&](at::IntArrayRef shape, double std) { return (at::randn(shape, gen) * std).to(dtype); };
  auto near_one = [&](int64_t n) { return (1.0 + 0.1 * at::randn({n}, gen)).to(dtype); };
  const int64_t h = c.hidden_size, qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim;
  std::map<std::string, at::Tensor> w;
  w["model.embed_tokens.weight"] = normal({c.vocab_size, h}, 1.0);
  w["model.norm.weight"] = near_one(h);
  if (!c.tie_word_embeddings) w["lm_head.weight"] = normal({c.vocab_size, h}, 0.1);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    w[p + "input_layernorm.weight"] = near_one(h);
    w[p + "post_attention_layernorm.weight"] = near_one(h);
    // Large enough q/k weights that attention is far from uniform, so backend differences show.
    w[p + "self_attn.q_proj.weight"] = normal({qd, h}, 0.3);
    w[p + "self_attn.k_proj.weight"] = normal({kvd, h}, 0.3);
    w[p + "self_attn.v_proj.weight"] = normal({kvd, h}, 0.1);
    w[p + "self_attn.o_proj.weight"] = normal({h, qd}, 0.1);
    if (c.qkv_bias) {
      w[p + "self_attn.q_proj.bias"] = normal({qd}, 0.1);
      w[p + "self_attn.k_proj.bias"] = normal({kvd}, 0.1);
      w[p + "self_attn.v_proj.bias"] = normal({kvd}, 0.1);
    }
    if (c.o_bias) w[p + "self_attn.o_proj.bias"] = normal({h}, 0.1);
    w[p + "mlp.gate_proj.weight"] = normal({c.intermediate_size, h}, 0.1);
    w[p + "mlp.up_proj.weight"] = normal({c.intermediate_size, h}, 0.1);
    w[p + "mlp.down_proj.weight"] = normal({h, c.intermediate_size}, 0.1);
    if (c.mlp_bias) {
      w[p + "mlp.gate_proj.bias"] = normal({c.intermediate_size}, 0.1);
      w[p + "mlp.up_proj.bias"] = normal({c.intermediate_size}, 0.1);
      w[p + "mlp.down_proj.bias"] = normal({h}, 0.1);
    }
  }
  return w;
}

std::string write_tiny_model(const std::string& folder, const model::ModelConfig& config,
                             const std::map<std::string, at::Tensor>& weights, int shards) {
  std::filesystem::create_directories(folder);
  std::filesystem::remove(folder + "/model.safetensors");
  std::filesystem::remove(folder + "/model.safetensors.index.json");
  std::ofstream(folder + "/config.json") << model::config_to_json(config);
  if (shards <= 1) {
    model::write_safetensors(folder + "/model.safetensors", weights);
    return folder;
  }
  std::vector<std::map<std::string, at::Tensor>> parts(shards);
  nlohmann::json index = {{"metadata", nlohmann::json::object()}, {"weight_map", nlohmann::json::object()}};
  int i = 0;
  for (const auto& [name, t] : weights) {
    const int s = i++ % shards;
    parts[s][name] = t;
    index["weight_map"][name] = fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, shards);
  }
  for (int s = 0; s < shards; ++s)
    model::write_safetensors(folder + fmt::format("/model-{:05d}-of-{:05d}.safetensors", s + 1, shards), parts[s]);
  std::ofstream(folder + "/model.safetensors.index.json") << index.dump(2);
  return folder;
}

}  // namespace sageval::testing
