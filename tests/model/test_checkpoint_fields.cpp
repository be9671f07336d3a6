// A checkpoint loads correctly or not at all (docs/model-config-fields.md): one tiny checkpoint per config
// field sageval rejects and per tensor it cannot account for, each refused with a message naming it; and each
// implemented variant (biases, activations, yarn, sliding windows, tied heads) loading and changing the
// computation the way its field says. The transformers cross-check (scripts/crosscheck_transformers.py, run on
// the GPU machine) compares the implemented variants' logits with transformers'.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sageval/model/config.h"
#include "sageval/model/llama_model.h"
#include "sageval/model/safetensors.h"
#include "support/test_helpers.h"
#include "support/tiny_model.h"

namespace sageval::testing {
namespace {

using model::LlamaModel;
using nlohmann::json;

std::string folder_for(const std::string& name) {
  const std::string f = (std::filesystem::path(::testing::TempDir()) / ("sageval_fields_" + name)).string();
  remove_tree(f);
  return f;
}

at::Tensor tokens(int64_t t, uint64_t seed = 3) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return at::randint(0, 256, {1, t}, gen, at::TensorOptions().dtype(at::kLong));
}

// A tiny checkpoint of `architecture` whose config.json gets `patch` merged in (JSON merge-patch: null removes).
std::string write_patched(const std::string& name, const std::string& architecture, const json& patch,
                          const std::function<void(std::map<std::string, at::Tensor>&)>& edit = {}) {
  const auto cfg = tiny_config(architecture);
  auto weights = tiny_weights(cfg, 5);
  if (edit) edit(weights);
  const std::string folder = write_tiny_model(folder_for(name), cfg, weights);
  json config = json::parse(std::ifstream(folder + "/config.json"));
  config.merge_patch(patch);
  std::ofstream(folder + "/config.json") << config.dump(2);
  return folder;
}

std::string load_error(const std::string& folder) {
  try {
    LlamaModel::load(folder);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// --- Fields sageval rejects: each named with its value. ---

struct RejectedField {
  std::string name, architecture;
  json patch;
  std::string expected;
};

std::vector<RejectedField> rejected_fields() {
  const std::string L = "LlamaForCausalLM", M = "MistralForCausalLM", Q = "Qwen2ForCausalLM";
  return {
      {"QuantizationConfig", L, {{"quantization_config", {{"quant_method", "gptq"}}}}, "field 'quantization_config' = {\"quant_method\":\"gptq\"} is not supported"},
      {"AutoMap", L, {{"auto_map", {{"AutoModelForCausalLM", "custom.Model"}}}}, "field 'auto_map'"},
      {"HiddenActTanhShortcut", L, {{"hidden_act", "gelu_fast"}}, "field 'hidden_act' = \"gelu_fast\" is not supported"},
      {"HiddenActSwiGLUName", M, {{"hidden_act", "swiglu"}}, "field 'hidden_act' = \"swiglu\""},
      {"RopeDynamic", L, {{"rope_scaling", {{"rope_type", "dynamic"}, {"factor", 2.0}}}}, "field 'rope_scaling.rope_type' = \"dynamic\" is not supported"},
      {"RopeLongrope", Q, {{"rope_scaling", {{"type", "longrope"}, {"factor", 2.0}}}}, "field 'rope_scaling.rope_type' = \"longrope\""},
      {"RopePerLayerType", L, {{"rope_parameters", {{"full_attention", {{"rope_type", "default"}}}}}}, "field 'rope_parameters.full_attention'"},
      {"PartialRotary", L, {{"partial_rotary_factor", 0.5}}, "field 'partial_rotary_factor' = 0.5 is not supported"},
      {"PartialRotaryInRopeParameters", Q, {{"rope_parameters", {{"rope_theta", 10000.0}, {"partial_rotary_factor", 0.25}}}}, "field 'partial_rotary_factor' = 0.25"},
      {"MistralAttentionBias", M, {{"attention_bias", true}}, "field 'attention_bias' = true is not supported: MistralForCausalLM has no such biases"},
      {"Qwen2MlpBias", Q, {{"mlp_bias", true}}, "field 'mlp_bias' = true is not supported: Qwen2ForCausalLM"},
      {"Qwen2SlidingLayersWithoutWindow", Q, {{"use_sliding_window", false}, {"layer_types", {"full_attention", "sliding_attention"}}}, "names sliding_attention layers but use_sliding_window is false"},
      {"Qwen2UnknownLayerType", Q, {{"use_sliding_window", true}, {"layer_types", {"full_attention", "chunked_attention"}}}, "field 'layer_types[1]' = \"chunked_attention\""},
      {"ModelTypeMismatch", Q, {{"model_type", "llama"}}, "field 'model_type' = \"llama\" does not match architecture Qwen2ForCausalLM"},
      {"Llama3WithoutItsFields", L, {{"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}}}}, "rope_scaling.low_freq_factor is required for rope_type 'llama3'"},
  };
}

class RejectedFields : public ::testing::TestWithParam<RejectedField> {};

TEST_P(RejectedFields, AreRefusedNamingFieldAndValue) {
  const RejectedField& c = GetParam();
  const std::string error = load_error(write_patched("reject_" + c.name, c.architecture, c.patch));
  EXPECT_HAS(error, c.expected);
  EXPECT_HAS(error, "config.json");
}

INSTANTIATE_TEST_SUITE_P(Fields, RejectedFields, ::testing::ValuesIn(rejected_fields()),
                         [](const ::testing::TestParamInfo<RejectedField>& info) { return info.param.name; });

// --- Tensors the config does not account for: each named with the folder. ---

struct UnexpectedTensor {
  std::string name, architecture, tensor;
  std::vector<int64_t> shape;
};

std::vector<UnexpectedTensor> unexpected_tensors() {
  return {
      {"LlamaBiasWithoutAttentionBias", "LlamaForCausalLM", "model.layers.0.self_attn.q_proj.bias", {256}},
      {"LlamaMlpBiasWithoutMlpBias", "LlamaForCausalLM", "model.layers.1.mlp.down_proj.bias", {128}},
      {"Qwen2OutputProjectionBias", "Qwen2ForCausalLM", "model.layers.0.self_attn.o_proj.bias", {128}},
      {"MistralKeyBias", "MistralForCausalLM", "model.layers.1.self_attn.k_proj.bias", {128}},
      {"ClassificationHead", "LlamaForCausalLM", "score.weight", {2, 128}},
      {"ExtraLayer", "Qwen2ForCausalLM", "model.layers.2.input_layernorm.weight", {128}},
      {"QuantizationScales", "MistralForCausalLM", "model.layers.0.mlp.up_proj.scales", {256}},
      {"LmHeadWhenTiedElsewhere", "LlamaForCausalLM", "model.lm_head.weight", {320, 128}},
  };
}

class UnexpectedTensors : public ::testing::TestWithParam<UnexpectedTensor> {};

TEST_P(UnexpectedTensors, AreRefusedNamingTensorAndFolder) {
  const UnexpectedTensor& c = GetParam();
  const std::string folder = write_patched("tensor_" + c.name, c.architecture, json::object(), [&](auto& w) {
    w[c.tensor] = at::zeros(c.shape);
  });
  const std::string error = load_error(folder);
  EXPECT_HAS(error, c.tensor);
  EXPECT_HAS(error, folder);
  EXPECT_HAS(error, "does not account for");
}

INSTANTIATE_TEST_SUITE_P(Tensors, UnexpectedTensors, ::testing::ValuesIn(unexpected_tensors()),
                         [](const ::testing::TestParamInfo<UnexpectedTensor>& info) { return info.param.name; });

// JSON keeps one value per key: a field given twice would be read as its last value, while another reader of
// the file may take the first. Refused, at any depth.
TEST(RepeatedFields, AreRefusedNamingTheField) {
  auto error_of_config = [](const std::string& text) {
    try {
      model::parse_config(text, "config.json");
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_HAS(error_of_config(R"({"architectures": ["LlamaForCausalLM"], "num_attention_heads": 4, "num_attention_heads": 8})"),
             "field 'num_attention_heads' is given more than once");
  EXPECT_HAS(error_of_config(R"({"architectures": ["LlamaForCausalLM"], "rope_scaling": {"factor": 2.0, "factor": 4.0}})"),
             "field 'factor' is given more than once");
}

TEST(CheckpointTensors, RotaryInverseFrequenciesOfOldCheckpointsAreSkipped) {
  const std::string folder = write_patched("inv_freq", "LlamaForCausalLM", json::object(), [](auto& w) {
    w["model.layers.0.self_attn.rotary_emb.inv_freq"] = at::ones({32});
  });
  EXPECT_EQ(load_error(folder), "");
}

TEST(CheckpointTensors, TiedHeadMustEqualTheEmbeddingsWhenSaved) {
  auto cfg = tiny_config();
  cfg.tie_word_embeddings = true;
  auto w = tiny_weights(cfg, 5);
  w["lm_head.weight"] = w["model.embed_tokens.weight"].clone();
  EXPECT_EQ(load_error(write_tiny_model(folder_for("tied_same"), cfg, w)), "");
  w["lm_head.weight"] = w["lm_head.weight"] + 1;
  EXPECT_HAS(load_error(write_tiny_model(folder_for("tied_differs"), cfg, w)),
             "tie_word_embeddings is true but lm_head.weight differs from model.embed_tokens.weight");
}

// --- Implemented variants: each field changes the computation, and only where it should. ---

at::Tensor logits_of(const std::string& folder, int64_t t = 40) { return LlamaModel::load(folder)->forward(tokens(t)); }

TEST(ImplementedFields, LlamaAttentionBiasAddsTheOutputProjectionBiasToo) {
  auto cfg = tiny_config();
  cfg.qkv_bias = cfg.o_bias = true;
  auto w = tiny_weights(cfg, 9);
  const at::Tensor with = logits_of(write_tiny_model(folder_for("o_bias"), cfg, w));
  w["model.layers.1.self_attn.o_proj.bias"].zero_();
  const at::Tensor without_last = logits_of(write_tiny_model(folder_for("o_bias_zero"), cfg, w));
  EXPECT_GT((with - without_last).abs().max().item<double>(), 1e-3) << "o_proj.bias is used";
  const auto loaded = model::load_config(write_tiny_model(folder_for("o_bias2"), cfg, w));
  EXPECT_TRUE(loaded.o_bias && loaded.qkv_bias);
}

TEST(ImplementedFields, LlamaMlpBiasIsUsed) {
  auto cfg = tiny_config();
  cfg.mlp_bias = true;
  auto w = tiny_weights(cfg, 10);
  const at::Tensor with = logits_of(write_tiny_model(folder_for("mlp_bias"), cfg, w));
  for (const char* b : {"gate_proj", "up_proj", "down_proj"})
    for (int l = 0; l < 2; ++l) w[fmt::format("model.layers.{}.mlp.{}.bias", l, b)].zero_();
  EXPECT_GT((with - logits_of(write_tiny_model(folder_for("mlp_bias_zero"), cfg, w))).abs().max().item<double>(), 1e-3);
}

TEST(ImplementedFields, ActivationsDifferAsTheirFormulas) {
  std::map<std::string, at::Tensor> out;
  for (const char* act : {"silu", "swish", "gelu", "gelu_new", "gelu_pytorch_tanh", "relu"})
    out[act] = logits_of(write_patched(std::string("act_") + act, "MistralForCausalLM", {{"hidden_act", act}}));
  EXPECT_TRUE(at::equal(out["silu"], out["swish"]));
  EXPECT_TRUE(at::equal(out["gelu_new"], out["gelu_pytorch_tanh"]));
  EXPECT_LT((out["gelu"] - out["gelu_new"]).abs().max().item<double>(), 1e-2) << "erf and tanh GELU are close";
  EXPECT_GT((out["gelu"] - out["gelu_new"]).abs().max().item<double>(), 0.0) << "but not equal";
  EXPECT_GT((out["silu"] - out["relu"]).abs().max().item<double>(), 1e-2);
}

TEST(ImplementedFields, YarnRampsBetweenInterpolationAndExtrapolation) {
  model::ModelConfig c = tiny_config();
  c.head_dim = 128;
  c.rope_theta = 1e6;
  const at::Tensor plain = model::rope_inverse_frequencies(c);
  c.rope_scaling.type = "yarn";
  c.rope_scaling.factor = 4.0;
  c.rope_scaling.original_max_position_embeddings = 4096;
  const at::Tensor yarn = model::rope_inverse_frequencies(c);
  EXPECT_FLOAT_EQ(yarn[0].item<float>(), plain[0].item<float>()) << "fast dimensions are extrapolated (kept)";
  EXPECT_NEAR(yarn[63].item<float>(), plain[63].item<float>() / 4, 1e-12) << "slow ones interpolated (divided)";
  const at::Tensor ratio = plain / yarn;
  EXPECT_TRUE(((ratio >= 1 - 1e-5) & (ratio <= 4 + 1e-4)).all().item<bool>());
  EXPECT_NEAR(model::rope_attention_scaling(c), 0.1 * std::log(4.0) + 1.0, 1e-12);
  c.rope_scaling.mscale = 1.0;
  c.rope_scaling.mscale_all_dim = 0.0;  // transformers: `mscale and mscale_all_dim` is false, the plain default
  EXPECT_NEAR(model::rope_attention_scaling(c), 0.1 * std::log(4.0) + 1.0, 1e-12);
  c.rope_scaling.attention_factor = 1.25;
  EXPECT_EQ(model::rope_attention_scaling(c), 1.25);
  // Through a checkpoint, from a transformers 5 rope_parameters dict.
  const std::string folder = write_patched("yarn", "Qwen2ForCausalLM", {{"rope_parameters", {{"rope_type", "yarn"},
      {"rope_theta", 1e6}, {"factor", 4.0}, {"original_max_position_embeddings", 64}}}});
  EXPECT_GT((logits_of(folder) - logits_of(write_patched("no_yarn", "Qwen2ForCausalLM", {{"rope_theta", 1e6}}))).abs().max().item<double>(), 1e-3);
}

TEST(ImplementedFields, SlidingWindowsPickTheirLayersAndRefuseLongerSequences) {
  auto m = model::load_config(write_patched("mistral_window", "MistralForCausalLM", {{"sliding_window", 32}}));
  EXPECT_EQ(m.sliding_window.value_or(0), 32);
  EXPECT_TRUE(m.layer_slides(0) && m.layer_slides(1));
  // (A merge-patch null removes a key, so explicit nulls are written into config.json directly.)
  auto with_null_window = [](const std::string& folder) {
    json config = json::parse(std::ifstream(folder + "/config.json"));
    config["sliding_window"] = nullptr;
    std::ofstream(folder + "/config.json") << config.dump(2);
    return folder;
  };
  EXPECT_FALSE(model::load_config(with_null_window(write_patched("mistral_none", "MistralForCausalLM", json::object()))).sliding_window);
  // A Mistral config without the key gets MistralConfig's default window, 4096, as transformers gives it.
  const std::string no_key = write_patched("mistral_default", "MistralForCausalLM", json::object());
  json config = json::parse(std::ifstream(no_key + "/config.json"));
  config.erase("sliding_window");
  EXPECT_EQ(model::parse_config(config.dump(), "test").sliding_window.value_or(0), 4096);
  // Qwen2 with use_sliding_window but a null window: no window.
  EXPECT_FALSE(model::load_config(with_null_window(write_patched("qwen_null", "Qwen2ForCausalLM",
                                                                 {{"use_sliding_window", true}, {"max_window_layers", 0}})))
                   .sliding_window);
  // Qwen2: a window only with use_sliding_window, on the layers from max_window_layers up (or as layer_types says).
  auto q = model::load_config(write_patched("qwen_window", "Qwen2ForCausalLM",
                                            {{"use_sliding_window", true}, {"sliding_window", 16}, {"max_window_layers", 1}}));
  EXPECT_FALSE(q.layer_slides(0));
  EXPECT_TRUE(q.layer_slides(1));
  EXPECT_FALSE(model::load_config(write_patched("qwen_off", "Qwen2ForCausalLM",
                                                {{"use_sliding_window", false}, {"sliding_window", 16}})).sliding_window);
  EXPECT_FALSE(model::load_config(write_patched("qwen_high", "Qwen2ForCausalLM",
                                                {{"use_sliding_window", true}, {"max_window_layers", 70}})).sliding_window)
      << "max_window_layers beyond the layer count: no layer slides";
  auto typed = model::load_config(write_patched("qwen_types", "Qwen2ForCausalLM",
      {{"use_sliding_window", true}, {"sliding_window", 16}, {"layer_types", {"sliding_attention", "full_attention"}}}));
  EXPECT_TRUE(typed.layer_slides(0));
  EXPECT_FALSE(typed.layer_slides(1));
  // Up to the window, the model equals one without it; past it, the forward is refused naming the window.
  const std::string windowed = write_patched("mistral_window_run", "MistralForCausalLM", {{"sliding_window", 32}});
  EXPECT_TRUE(at::equal(logits_of(windowed, 32), logits_of(write_patched("mistral_full_run", "MistralForCausalLM", json::object()), 32)));
  auto model = LlamaModel::load(windowed);
  try {
    model->forward(tokens(33));
    ADD_FAILURE() << "a sequence longer than the sliding window ran";
  } catch (const std::invalid_argument& e) {
    EXPECT_HAS(e.what(), "sliding_window is 32 tokens and this forward covers 33");
  }
  auto cache = model->make_cache(1, 40);
  model->forward(tokens(30), &cache);
  EXPECT_THROW(model->forward(tokens(3), &cache), std::invalid_argument) << "30 cached + 3 new > 32";
}

TEST(ImplementedFields, DefaultsFollowEachClass) {
  auto config_without = [](const std::string& arch, const char* key) {
    const std::string folder = write_patched(fmt::format("default_{}_{}", arch, key), arch, {{key, nullptr}});
    json j = json::parse(std::ifstream(folder + "/config.json"));
    return model::parse_config(j.dump(), "test");
  };
  // A missing num_key_value_heads: Llama uses the head count, Mistral 8, Qwen2 32 (then rejected: 4 heads).
  EXPECT_EQ(config_without("LlamaForCausalLM", "num_key_value_heads").num_kv_heads, 4);
  EXPECT_HAS(error_of([&] { config_without("MistralForCausalLM", "num_key_value_heads"); }),
             "num_attention_heads (4) is not a multiple of num_key_value_heads (8)");
  EXPECT_EQ(config_without("Qwen2ForCausalLM", "rms_norm_eps").rms_norm_eps, 1e-6);
  EXPECT_EQ(config_without("MistralForCausalLM", "rope_theta").rope_theta, 10000.0);
  EXPECT_EQ(config_without("LlamaForCausalLM", "head_dim").head_dim, 32) << "hidden_size / num_attention_heads";
  EXPECT_EQ(config_without("MistralForCausalLM", "max_position_embeddings").max_position_embeddings, 131072);
  EXPECT_EQ(config_without("Qwen2ForCausalLM", "max_position_embeddings").max_position_embeddings, 32768);
}

TEST(ImplementedFields, FieldsThatChangeNothingAreListedNotRejected) {
  const auto c = model::load_config(write_patched("ignored", "LlamaForCausalLM",
      {{"attention_dropout", 0.1}, {"pretraining_tp", 2}, {"use_cache", false}, {"sliding_window", 16}, {"use_mrope", true}}));
  for (const char* k : {"attention_dropout", "pretraining_tp", "use_cache"})
    EXPECT_NE(std::find(c.ignored_fields.begin(), c.ignored_fields.end(), k), c.ignored_fields.end()) << k;
  // LlamaForCausalLM does not read sliding_window: not applied, listed as unread.
  EXPECT_FALSE(c.sliding_window);
  EXPECT_NE(std::find(c.unread_fields.begin(), c.unread_fields.end(), "sliding_window"), c.unread_fields.end());
  EXPECT_NE(std::find(c.unread_fields.begin(), c.unread_fields.end(), "use_mrope"), c.unread_fields.end());
}

TEST(ImplementedFields, ADtypeTheCpuCannotRunIsNamedAtLoad) {
  const std::string folder = write_patched("half_cpu", "LlamaForCausalLM", json::object());
  model::LoadOptions o;
  o.dtype = at::kHalf;
  try {
    auto m = LlamaModel::load(folder, o);
    EXPECT_TRUE(at::isfinite(m->forward(tokens(8))).all().item<bool>()) << "this libtorch runs float16 on the CPU";
  } catch (const std::runtime_error& e) {
    EXPECT_HAS(e.what(), "dtype Half on cpu is not supported by this libtorch");
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line";
  }
}

}  // namespace
}  // namespace sageval::testing
