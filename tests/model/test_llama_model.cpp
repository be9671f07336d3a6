// The Llama-family runner on tiny random checkpoints written by our safetensors writer: KV-cache decoding
// equals prefill, batching equals single runs, every backend runs through the model, per-layer overrides and
// activation capture work, generation is deterministic and stops, and bad checkpoints are named precisely.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include <fmt/format.h>

#include "sageval/metrics.h"
#include "sageval/model/generation.h"
#include "sageval/model/llama_model.h"
#include "sageval/model/safetensors.h"
#include "support/tiny_model.h"

namespace sageval::testing {
namespace {

using model::LlamaModel;

std::string temp_folder(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / ("sageval_model_" + name)).string();
}

at::Tensor random_tokens(int64_t b, int64_t t, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return at::randint(0, 256, {b, t}, gen, at::TensorOptions().dtype(at::kLong));
}

class PerArchitecture : public ::testing::TestWithParam<const char*> {
 protected:
  std::unique_ptr<LlamaModel> load_tiny(const std::string& tag = "") {
    const auto cfg = tiny_config(GetParam());
    const std::string folder = write_tiny_model(temp_folder(std::string(GetParam()) + tag), cfg, tiny_weights(cfg, 42));
    return LlamaModel::load(folder);
  }
};

TEST_P(PerArchitecture, PrefillEqualsTokenByTokenDecode) {
  auto m = load_tiny();
  at::Tensor tokens = random_tokens(1, 24, 1);
  at::Tensor prefill = m->forward(tokens);
  ASSERT_EQ(prefill.sizes(), (std::vector<int64_t>{1, 24, 320}));
  auto cache = m->make_cache(1, 24);
  std::vector<at::Tensor> steps;
  for (int64_t i = 0; i < 24; ++i) steps.push_back(m->forward(tokens.slice(1, i, i + 1), &cache));
  at::Tensor decoded = at::cat(steps, 1);
  EXPECT_LT((prefill - decoded).abs().max().item<float>(), 1e-4f);
  // A chunk of 10 after a prefill of 14 gives the same logits as well.
  auto cache2 = m->make_cache(1, 24);
  m->forward(tokens.slice(1, 0, 14), &cache2);
  at::Tensor chunk = m->forward(tokens.slice(1, 14, 24), &cache2);
  EXPECT_LT((prefill.slice(1, 14, 24) - chunk).abs().max().item<float>(), 1e-4f);
  EXPECT_EQ(cache2.length(), 24);
}

TEST_P(PerArchitecture, BatchedEqualsUnbatched) {
  auto m = load_tiny();
  at::Tensor tokens = random_tokens(3, 17, 2);
  at::Tensor batched = m->forward(tokens);
  for (int64_t r = 0; r < 3; ++r)
    EXPECT_LT((batched[r] - m->forward(tokens.slice(0, r, r + 1))[0]).abs().max().item<float>(), 1e-4f) << "row " << r;
}

TEST_P(PerArchitecture, ShardedCheckpointLoadsTheSameWeights) {
  const auto cfg = tiny_config(GetParam());
  const auto weights = tiny_weights(cfg, 42);
  auto single = LlamaModel::load(write_tiny_model(temp_folder(std::string(GetParam()) + "_one"), cfg, weights));
  auto sharded = LlamaModel::load(write_tiny_model(temp_folder(std::string(GetParam()) + "_three"), cfg, weights, 3));
  at::Tensor tokens = random_tokens(1, 9, 3);
  EXPECT_TRUE(at::equal(single->forward(tokens), sharded->forward(tokens)));
}

INSTANTIATE_TEST_SUITE_P(Architectures, PerArchitecture,
                         ::testing::Values("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"),
                         [](const ::testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

class TinyLlama : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto cfg = tiny_config();
    model_ = LlamaModel::load(write_tiny_model(temp_folder("llama"), cfg, tiny_weights(cfg, 7)));
  }
  std::unique_ptr<LlamaModel> model_;
};

TEST_F(TinyLlama, EveryBackendRunsThroughTheModel) {
  at::Tensor tokens = random_tokens(2, 70, 4);
  at::Tensor reference = model_->forward(tokens);  // math
  // Minimum logit cosine per backend. The tiny model's q/k weights make attention very peaked (score spread
  // ~10), where INT8 Q.K^T loses most; 0.99 bounds that as a regression gate, not a quality claim.
  const std::pair<const char*, double> backends[] = {{"math_fp32", 0.999999}, {"fp16", 0.9999}, {"sage_int8", 0.99}};
  for (const auto& [name, min_cosine] : backends) {
    model_->set_attention({name, {}});
    at::Tensor logits = model_->forward(tokens);
    const ErrorStats s = compare_tensors(logits, reference);
    std::printf("[ figures  ] tiny Llama logits, %s vs math: %s\n", name, format_error_stats(s).c_str());
    EXPECT_EQ(s.nan_count + s.inf_count, 0) << name;
    EXPECT_GT(s.cosine, min_cosine) << name;
    EXPECT_GT(s.max_abs, 0.0) << name << " gave math's logits exactly: the backend was not used";
  }
}

TEST_F(TinyLlama, PerLayerOverrideRunsTheNamedBackendThere) {
  model_->set_attention({"sage_int8", {{0, "math"}}});
  EXPECT_EQ(model_->attention_dtype(0), at::kFloat);
  EXPECT_EQ(model_->attention_dtype(1), at::kHalf);  // the 16-bit backend gets fp16 q/k/v in a float32 model
  at::Tensor tokens = random_tokens(1, 40, 5);
  at::Tensor mixed = model_->forward(tokens);
  model_->set_attention({"sage_int8", {}});
  at::Tensor all_sage = model_->forward(tokens);
  model_->set_attention({"math", {}});
  at::Tensor all_math = model_->forward(tokens);
  EXPECT_FALSE(at::equal(mixed, all_sage));
  EXPECT_FALSE(at::equal(mixed, all_math));
  EXPECT_THROW(model_->set_attention({"math", {{5, "fp16"}}}), std::invalid_argument);
  EXPECT_THROW(model_->set_attention({"nope", {}}), std::invalid_argument);
}

TEST_F(TinyLlama, CaptureHoldsEveryLayer) {
  model::LayerCapture capture;
  at::Tensor tokens = random_tokens(2, 11, 6);
  model_->forward(tokens, nullptr, &capture);
  ASSERT_EQ(capture.attention_out.size(), 2u);
  ASSERT_EQ(capture.hidden.size(), 2u);
  for (const auto& t : capture.hidden) EXPECT_EQ(t.sizes(), (std::vector<int64_t>{2, 11, 128}));
  EXPECT_FALSE(at::equal(capture.hidden[0], capture.hidden[1]));
}

TEST_F(TinyLlama, GenerationIsDeterministicAndStops) {
  std::vector<std::vector<int64_t>> prompts = {{256, 72, 101}, {256, 72, 105}, {256, 65}};
  model::SamplingOptions greedy;
  greedy.max_new_tokens = 12;
  auto a = model::generate(*model_, prompts, greedy);
  auto b = model::generate(*model_, prompts, greedy);
  ASSERT_EQ(a.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(a[i].tokens.size(), 12u);
    EXPECT_EQ(a[i].tokens, b[i].tokens);
  }
  // Greedy continuation of a prompt alone equals its continuation inside a group.
  auto alone = model::generate(*model_, {prompts[2]}, greedy);
  EXPECT_EQ(alone[0].tokens, a[2].tokens);
  // Sampling: same seed, same tokens.
  model::SamplingOptions hot = greedy;
  hot.temperature = 1.0;
  hot.seed = 99;
  EXPECT_EQ(model::generate(*model_, prompts, hot)[0].tokens, model::generate(*model_, prompts, hot)[0].tokens);
  // Stops at EOS: make the greedy first token the stop token.
  model::SamplingOptions stop = greedy;
  stop.eos = a[0].tokens[0];
  auto stopped = model::generate(*model_, {prompts[0]}, stop);
  EXPECT_TRUE(stopped[0].stopped_at_eos);
  EXPECT_TRUE(stopped[0].tokens.empty());
}

TEST_F(TinyLlama, RejectsBadTokensAndCacheOverflow) {
  EXPECT_THROW(model_->forward(at::full({1, 3}, 400, at::kLong)), std::invalid_argument);
  EXPECT_THROW(model_->forward(at::zeros({1, 3}, at::kInt)), std::invalid_argument);
  auto cache = model_->make_cache(1, 4);
  model_->forward(random_tokens(1, 3, 8), &cache);
  EXPECT_THROW(model_->forward(random_tokens(1, 2, 9), &cache), std::invalid_argument);
}

TEST(RopeScaling, Llama3KeepsHighFrequenciesAndSlowsLowOnes) {
  model::ModelConfig c = tiny_config();
  c.head_dim = 128;
  c.rope_theta = 500000.0;
  at::Tensor plain = model::rope_inverse_frequencies(c);
  c.rope_scaling.type = "llama3";
  c.rope_scaling.factor = 8.0;
  c.rope_scaling.low_freq_factor = 1.0;
  c.rope_scaling.high_freq_factor = 4.0;
  c.rope_scaling.original_max_position_embeddings = 8192;
  at::Tensor scaled = model::rope_inverse_frequencies(c);
  EXPECT_FLOAT_EQ(scaled[0].item<float>(), 1.0f);                        // wavelength 2pi < 2048: kept
  EXPECT_FLOAT_EQ(scaled[63].item<float>(), plain[63].item<float>() / 8);  // wavelength > 8192: divided by 8
  // In between, the factor lies strictly between 1 and 8.
  at::Tensor ratio = plain / scaled;
  EXPECT_TRUE(((ratio >= 1.0 - 1e-6) & (ratio <= 8.0 + 1e-5)).all().item<bool>());
  c.rope_scaling.type = "linear";
  c.rope_scaling.factor = 2.0;
  EXPECT_TRUE(at::allclose(model::rope_inverse_frequencies(c), plain / 2.0));
}

TEST(ModelConfig, ReadsRopeFromEitherConfigGeneration) {
  const std::string base = R"("architectures": ["LlamaForCausalLM"], "vocab_size": 300, "hidden_size": 128,
      "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2)";
  // transformers 4: top-level rope_theta and rope_scaling.
  auto v4 = model::parse_config("{" + base + R"(, "rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3",
      "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 256}})", "v4");
  // transformers 5: both inside rope_parameters.
  auto v5 = model::parse_config("{" + base + R"(, "rope_parameters": {"rope_theta": 500000.0, "rope_type": "llama3",
      "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 256}})", "v5");
  for (const auto& c : {v4, v5}) {
    EXPECT_EQ(c.rope_theta, 500000.0);
    EXPECT_EQ(c.rope_scaling.type, "llama3");
    EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 256);
  }
  auto plain = model::parse_config("{" + base + R"(, "rope_parameters": {"rope_theta": 1000.0, "rope_type": "default"}})", "p");
  EXPECT_EQ(plain.rope_theta, 1000.0);
  EXPECT_TRUE(plain.rope_scaling.type.empty());
  EXPECT_EQ(plain.head_dim, 32);
  EXPECT_THROW(model::parse_config("{" + base + R"(, "rope_scaling": {"rope_type": "dynamic", "factor": 4.0}})", "y"),
               std::runtime_error);
}

// Each bad checkpoint gives an error naming what is wrong.
struct BadCheckpoint {
  std::string name;
  std::function<void(const std::string& folder)> spoil;  // applied to a good checkpoint folder
  std::string expected;
};

std::vector<BadCheckpoint> bad_checkpoints() {
  const auto cfg = tiny_config();
  auto rewrite = [cfg](const std::string& folder, const std::function<void(std::map<std::string, at::Tensor>&)>& edit) {
    auto w = tiny_weights(cfg, 1);
    edit(w);
    write_tiny_model(folder, cfg, w);
  };
  return {
      {"MissingTensor", [=](const std::string& f) { rewrite(f, [](auto& w) { w.erase("model.layers.1.mlp.up_proj.weight"); }); },
       "missing tensor 'model.layers.1.mlp.up_proj.weight'"},
      {"WrongShape", [=](const std::string& f) { rewrite(f, [](auto& w) { w["model.norm.weight"] = at::ones({64}); }); },
       "tensor 'model.norm.weight' has shape 64 but the config implies 128"},
      {"IntegerWeight", [=](const std::string& f) { rewrite(f, [](auto& w) { w["model.norm.weight"] = at::ones({128}, at::kInt); }); },
       "has dtype Int (supported: F32, F16, BF16)"},
      {"UnknownArchitecture", [=](const std::string& f) {
         auto c2 = cfg; c2.architecture = "GPT2LMHeadModel"; write_tiny_model(f, c2, tiny_weights(cfg, 1)); },
       "unknown architecture 'GPT2LMHeadModel'"},
      {"TruncatedFile", [](const std::string& f) {
         std::filesystem::resize_file(f + "/model.safetensors", std::filesystem::file_size(f + "/model.safetensors") / 2); },
       "model.safetensors"},
      {"NoConfig", [](const std::string& f) { std::filesystem::remove(f + "/config.json"); }, "has no readable config.json"},
      {"NoWeights", [](const std::string& f) { std::filesystem::remove(f + "/model.safetensors"); },
       "neither model.safetensors nor model.safetensors.index.json"},
  };
}

class BadCheckpoints : public ::testing::TestWithParam<BadCheckpoint> {};

TEST_P(BadCheckpoints, FailWithANamedError) {
  const auto cfg = tiny_config();
  const std::string folder = write_tiny_model(temp_folder("bad_" + GetParam().name), cfg, tiny_weights(cfg, 1));
  GetParam().spoil(folder);
  try {
    LlamaModel::load(folder);
    FAIL() << "loaded a bad checkpoint (" << GetParam().name << ")";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(GetParam().expected), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << GetParam().expected;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, BadCheckpoints, ::testing::ValuesIn(bad_checkpoints()),
                         [](const ::testing::TestParamInfo<BadCheckpoint>& info) { return info.param.name; });

}  // namespace
}  // namespace sageval::testing
