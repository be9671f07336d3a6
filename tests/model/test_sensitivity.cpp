// Sensitivity tracing (eval/sensitivity.h) and the precision plan (eval/precision_plan.h) on a tiny random model with one planted sensitive layer. The q and k
// projections of every other layer are scaled down 4x (scores 16x smaller: attention near uniform, where INT8's
// score error barely moves the output); the planted layer keeps the fixture's sharp attention, where it moves the
// predictions. The trace must name that layer and no other, and the plan must keep exactly that layer on fp16,
// whichever layer it is planted in.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sageval/eval/precision_plan.h"
#include "sageval/eval/sensitivity.h"
#include "sageval/model/llama_model.h"
#include "support/tiny_model.h"

namespace sageval::testing {
namespace {

// The 3-layer tiny model with `planted` sensitive, and two random windows of 256 tokens (the last 128 scored).
struct PlantedCase {
  std::unique_ptr<model::LlamaModel> model;
  at::Tensor inputs, targets;
};

PlantedCase planted_case(int64_t planted) {
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
  at::Generator gen = at::detail::createCPUGenerator(5);
  const at::Tensor tokens = at::randint(0, 256, {2, 257}, gen, at::TensorOptions().dtype(at::kLong));
  return {model::LlamaModel::load(folder), tokens.slice(1, 0, 256), tokens.slice(1, 1, 257)};
}

class Sensitivity : public ::testing::TestWithParam<int64_t> {};  // param: the planted layer

TEST_P(Sensitivity, NamesThePlantedLayer) {
  const int64_t planted = GetParam();
  PlantedCase c = planted_case(planted);
  auto& model = c.model;
  const eval::SensitivityTrace t = eval::trace_layer_sensitivity(*model, c.inputs, c.targets, 128, {"fp16", "sage_int8"});
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

// The plan keeps exactly the planted layer on fp16: with it the mean KLD falls under the gate (measured: 1e-6 to
// 9e-5 against 5e-4 to 1.7e-3 with INT8 everywhere).
TEST_P(Sensitivity, PlanKeepsThePlantedLayerOnTheBaseline) {
  const int64_t planted = GetParam();
  PlantedCase c = planted_case(planted);
  const eval::PlanGate gate = [](const eval::TokenStatsSummary& s) { return s.kld_mean <= 2e-4; };
  const eval::PlanSearch search = eval::plan_precision(*c.model, c.inputs, c.targets, 128, {"fp16", "sage_int8"}, gate);
  for (const auto& step : search.steps) std::printf("[ figures  ] planted %lld step %s\n", static_cast<long long>(planted), step.dump().c_str());
  EXPECT_TRUE(search.passes);
  EXPECT_EQ(search.plan.baseline_layers, std::vector<int64_t>{planted});
  ASSERT_EQ(search.steps.size(), 2u) << "all-INT8 fails, one move passes";
  EXPECT_FALSE(search.steps[0]["pass"].get<bool>());
  EXPECT_EQ(search.plan.label(), "sage_int8 (layer " + std::to_string(planted) + " on fp16)");
  const model::AttentionSelection sel = search.plan.selection();
  EXPECT_EQ(sel.backend, "sage_int8");
  EXPECT_EQ(sel.layer_backend.at(planted), "fp16");
  EXPECT_EQ(c.model->attention().backend, "fp16") << "the search leaves the model on the baseline";
}

// One sharp head: every layer's q and k scaled down 4x, except head 2 of layer 1 (its q rows and its kv head's k
// rows keep the fixture's scale). The trace names layer 1 and, within it, head 2.
TEST(HeadSensitivity, NamesThePlantedHead) {
  model::ModelConfig cfg = tiny_config();
  cfg.num_layers = 3;
  auto weights = tiny_weights(cfg, 11);
  const int64_t d = cfg.head_dim, kv_of_head2 = 2 / (cfg.num_heads / cfg.num_kv_heads);
  for (int64_t layer = 0; layer < cfg.num_layers; ++layer) {
    at::Tensor& q = weights.at("model.layers." + std::to_string(layer) + ".self_attn.q_proj.weight");
    at::Tensor& k = weights.at("model.layers." + std::to_string(layer) + ".self_attn.k_proj.weight");
    at::Tensor qs = at::full({q.size(0), 1}, 0.25), ks = at::full({k.size(0), 1}, 0.25);
    if (layer == 1) {
      qs.slice(0, 2 * d, 3 * d).fill_(1.0);
      ks.slice(0, kv_of_head2 * d, (kv_of_head2 + 1) * d).fill_(1.0);
    }
    q = q * qs;
    k = k * ks;
  }
  auto model = model::LlamaModel::load(write_tiny_model(
      (std::filesystem::path(::testing::TempDir()) / "sageval_head_sensitivity").string(), cfg, weights));
  at::Generator gen = at::detail::createCPUGenerator(5);
  const at::Tensor tokens = at::randint(0, 256, {2, 257}, gen, at::TensorOptions().dtype(at::kLong));
  const eval::SensitivityTrace t =
      eval::trace_layer_sensitivity(*model, tokens.slice(1, 0, 256), tokens.slice(1, 1, 257), 128, {"fp16", "sage_int8"});
  std::printf("[ figures  ] planted head 2 of layer 1\n%s", t.table().c_str());
  EXPECT_EQ(t.guilty, std::vector<int64_t>{1});
  ASSERT_EQ(t.heads.size(), 1u);
  EXPECT_EQ(t.heads[0].layer, 1);
  ASSERT_EQ(t.heads[0].only.size(), 4u);
  EXPECT_EQ(t.heads[0].guilty, std::vector<int64_t>{2});
  EXPECT_EQ(t.to_json()["heads"][0]["guilty_heads"], nlohmann::json::array({2}));
  EXPECT_EQ(model->attention().backend, "fp16");
  EXPECT_TRUE(model->attention().head_backend.empty()) << "the trace leaves the model on the plain baseline";
}

// A head override replaces exactly that head's output. Layer 0's o_proj reads only head 1 (model A) or every head
// but head 1 (model B): with head 1 of layer 0 on sage_int8 and the rest on fp16, layer 0's attention output then
// equals all-sage_int8's bit for bit in A, and all-fp16's in B.
TEST(HeadSensitivity, HeadOverrideReplacesOnlyThatHead) {
  model::ModelConfig cfg = tiny_config();
  const int64_t d = cfg.head_dim;
  for (const bool only_head1 : {true, false}) {
    auto weights = tiny_weights(cfg, 4);
    at::Tensor& o = weights.at("model.layers.0.self_attn.o_proj.weight");  // [hidden, heads * d]
    at::Tensor keep = at::zeros({1, o.size(1)});
    keep.slice(1, d, 2 * d).fill_(1.0);
    if (!only_head1) keep = 1.0 - keep;
    o = o * keep;
    auto model = model::LlamaModel::load(write_tiny_model(
        (std::filesystem::path(::testing::TempDir()) / ("sageval_head_override_" + std::to_string(only_head1))).string(),
        cfg, weights));
    at::Generator gen = at::detail::createCPUGenerator(9);
    const at::Tensor tokens = at::randint(0, 256, {1, 64}, gen, at::TensorOptions().dtype(at::kLong));
    auto layer0 = [&](const model::AttentionSelection& sel) {
      model->set_attention(sel);
      model::LayerCapture cap;
      model->forward(tokens, nullptr, &cap);
      return cap.attention_out[0];
    };
    const at::Tensor mixed = layer0({"fp16", {}, {{0, {{1, "sage_int8"}}}}});
    const at::Tensor int8 = layer0({"sage_int8", {}, {}}), fp16 = layer0({"fp16", {}, {}});
    ASSERT_FALSE(at::equal(int8, fp16)) << "the two backends must differ for the test to mean anything";
    EXPECT_TRUE(at::equal(mixed, only_head1 ? int8 : fp16)) << (only_head1 ? "head 1 is sage_int8's" : "the others are fp16's");
  }
  auto model = model::LlamaModel::load(write_tiny_model(
      (std::filesystem::path(::testing::TempDir()) / "sageval_head_override_bad").string(), cfg, tiny_weights(cfg, 4)));
  EXPECT_THROW(model->set_attention({"fp16", {}, {{0, {{4, "sage_int8"}}}}}), std::invalid_argument);
  EXPECT_THROW(model->set_attention({"fp16", {}, {{2, {{0, "sage_int8"}}}}}), std::invalid_argument);
  EXPECT_THROW(model->set_attention({"fp16", {}, {{0, {{0, "nope"}}}}}), std::invalid_argument);
}

TEST(PrecisionPlanFile, RoundTripsAndNamesEveryBadField) {
  const std::string dir = (std::filesystem::path(::testing::TempDir()) / "sageval_plans").string();
  std::filesystem::create_directories(dir);
  eval::PrecisionPlan plan{"sage_int8", "fp16", {0, 3}, "by hand"};
  eval::write_precision_plan(plan, dir + "/plan.json");
  const eval::PrecisionPlan back = eval::read_precision_plan(dir + "/plan.json", 6);
  EXPECT_EQ(back.to_json(), plan.to_json());
  EXPECT_EQ(back.label(), "sage_int8 (layers 0, 3 on fp16)");
  auto error_of = [&](const std::string& text, int64_t layers = 0) -> std::string {
    std::ofstream(dir + "/bad.json") << text;
    try {
      eval::read_precision_plan(dir + "/bad.json", layers);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "accepted";
  };
  const std::string ok_backends = R"("candidate": "sage_int8", "baseline": "fp16")";
  EXPECT_NE(error_of("{" + ok_backends + R"(, "baseline_layers": [0], "layres": 1})").find("unknown key \"layres\""), std::string::npos);
  EXPECT_NE(error_of("{" + ok_backends + R"(, "baseline_layers": [1, 1]})").find("layer 1 is listed twice"), std::string::npos);
  EXPECT_NE(error_of("{" + ok_backends + R"(, "baseline_layers": [-1]})").find("not a non-negative integer"), std::string::npos);
  EXPECT_NE(error_of("{" + ok_backends + R"(, "baseline_layers": ["0"]})").find("not a non-negative integer"), std::string::npos);
  EXPECT_NE(error_of("{" + ok_backends + R"(, "baseline_layers": [7]})", 6).find("layer 7 does not exist (the model has 6 layers)"), std::string::npos);
  EXPECT_NE(error_of(R"({"candidate": "", "baseline": "fp16", "baseline_layers": []})").find("\"candidate\" must be a non-empty string"), std::string::npos);
  EXPECT_NE(error_of("{" + ok_backends + "}").find("\"baseline_layers\" must be an array"), std::string::npos);
  EXPECT_NE(error_of("{" + ok_backends + R"(, "baseline_layers": [0, 1, 2]})", 3).find("keeps all 3 layers on the baseline"),
            std::string::npos);
  EXPECT_NE(error_of("[1, 2]").find("is not a JSON object"), std::string::npos);
  EXPECT_NE(error_of("{nope").find("not JSON"), std::string::npos);
  EXPECT_NE(error_of("{nope").find(dir + "/bad.json"), std::string::npos) << "errors name the file";
  EXPECT_THROW(eval::read_precision_plan(dir + "/missing.json"), std::invalid_argument);
}

TEST(SensitivityInputs, AreChecked) {
  model::ModelConfig cfg = tiny_config();
  auto model = model::LlamaModel::load(write_tiny_model(
      (std::filesystem::path(::testing::TempDir()) / "sageval_sensitivity_inputs").string(), cfg, tiny_weights(cfg, 3)));
  const at::Tensor x = at::zeros({1, 16}, at::kLong);
  EXPECT_THROW(eval::trace_layer_sensitivity(*model, x, at::zeros({1, 15}, at::kLong), 8, {"fp16", "sage_int8"}),
               std::invalid_argument);
  EXPECT_THROW(eval::trace_layer_sensitivity(*model, x, x, 16, {"fp16", "sage_int8"}), std::invalid_argument);
  const eval::PlanGate any = [](const eval::TokenStatsSummary&) { return true; };
  EXPECT_THROW(eval::plan_precision(*model, x, at::zeros({2, 16}, at::kLong), 8, {"fp16", "sage_int8"}, any),
               std::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(Planted, Sensitivity, ::testing::Values(0, 1, 2),
                         [](const ::testing::TestParamInfo<int64_t>& info) { return "Layer" + std::to_string(info.param); });

}  // namespace
}  // namespace sageval::testing
