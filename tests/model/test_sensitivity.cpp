// Sensitivity tracing (eval/sensitivity.h) on a tiny random model with one planted sensitive layer. The q and k
// projections of every other layer are scaled down 4x (scores 16x smaller: attention near uniform, where INT8's
// score error barely moves the output); the planted layer keeps the fixture's sharp attention, where it moves the
// predictions. The trace must name that layer and no other, whichever layer it is planted in.
#include <gtest/gtest.h>

#include <filesystem>

#include "sageval/eval/sensitivity.h"
#include "sageval/model/llama_model.h"
#include "support/tiny_model.h"

namespace sageval::testing {
namespace {

class Sensitivity : public ::testing::TestWithParam<int64_t> {};  // param: the planted layer

TEST_P(Sensitivity, NamesThePlantedLayer) {
  const int64_t planted = GetParam();
  model::ModelConfig cfg = tiny_config();
  cfg.num_layers = 3;
  auto weights = tiny_weights(cfg, 11);
  for (int64_t layer = 0; layer < cfg.num_layers; ++layer) {
    if (layer == planted) continue;
    for (const char* proj : {"q_proj", "k_proj"}) {
      at::Tensor& w = weights.at("model.layers." + std::to_string(layer) + ".self_attn." + proj + ".weight");
      w = w * 0.25;
    }
  }
  const std::string folder = write_tiny_model(
      (std::filesystem::path(::testing::TempDir()) / ("sageval_sensitivity_" + std::to_string(planted))).string(), cfg,
      weights);
  auto model = model::LlamaModel::load(folder);
  at::Generator gen = at::detail::createCPUGenerator(5);
  const at::Tensor tokens = at::randint(0, 256, {2, 257}, gen, at::TensorOptions().dtype(at::kLong));
  const at::Tensor inputs = tokens.slice(1, 0, 256), targets = tokens.slice(1, 1, 257);
  const eval::SensitivityTrace t = eval::trace_layer_sensitivity(*model, inputs, targets, 128, {"fp16", "sage_int8"});
  std::printf("[ figures  ] planted layer %lld\n%s", static_cast<long long>(planted), t.table().c_str());
  ASSERT_EQ(t.only.size(), 3u);
  ASSERT_EQ(t.all_but.size(), 3u);
  EXPECT_EQ(t.all.tokens, 2 * 128);
  EXPECT_EQ(t.guilty, std::vector<int64_t>{planted});
  for (int64_t i = 0; i < 3; ++i) {
    if (i == planted) continue;
    EXPECT_GT(t.only[planted].kld_mean, 5.0 * t.only[i].kld_mean) << "layer " << i;
  }
  EXPECT_EQ(model->attention().backend, "fp16") << "the trace leaves the model on the baseline";
  const nlohmann::json j = t.to_json();
  EXPECT_EQ(j["guilty_layers"], nlohmann::json::array({planted}));
  EXPECT_EQ(j["only"].size(), 3u);
}

TEST(SensitivityInputs, AreChecked) {
  model::ModelConfig cfg = tiny_config();
  auto model = model::LlamaModel::load(write_tiny_model(
      (std::filesystem::path(::testing::TempDir()) / "sageval_sensitivity_inputs").string(), cfg, tiny_weights(cfg, 3)));
  const at::Tensor x = at::zeros({1, 16}, at::kLong);
  EXPECT_THROW(eval::trace_layer_sensitivity(*model, x, at::zeros({1, 15}, at::kLong), 8, {"fp16", "sage_int8"}),
               std::invalid_argument);
  EXPECT_THROW(eval::trace_layer_sensitivity(*model, x, x, 16, {"fp16", "sage_int8"}), std::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(Planted, Sensitivity, ::testing::Values(0, 1, 2),
                         [](const ::testing::TestParamInfo<int64_t>& info) { return "Layer" + std::to_string(info.param); });

}  // namespace
}  // namespace sageval::testing
