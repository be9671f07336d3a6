// The committed default model (data/models/sageval-byte-llama) loads on CPU, runs through every backend, and
// reproduces its model card's bits per byte on a slice of WikiText-2's test split.
#include <gtest/gtest.h>

#include "support/test_helpers.h"

#include <cmath>
#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "sageval/data/datasets.h"
#include "sageval/eval/perplexity.h"
#include "sageval/model/generation.h"
#include "sageval/model/llama_model.h"
#include "sageval/model/tokenizer.h"

namespace sageval::testing {
namespace {

const std::string kModel = model::default_model_dir();

nlohmann::json model_card_figures() {
  std::ifstream in(kModel + "/eval.json");
  return nlohmann::json::parse(in);
}

TEST(DefaultModel, LoadsOnCpuWithTheDocumentedShape) {
  auto m = model::LlamaModel::load(kModel);
  const auto& c = m->config();
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.num_heads / c.num_kv_heads, 2);
  EXPECT_GE(c.num_layers, 6);
  EXPECT_EQ(c.vocab_size % 64, 0);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(m->dtype(), at::kFloat);
  model::ByteTokenizer tok;
  model::SamplingOptions s;
  s.max_new_tokens = 16;
  s.eos = tok.eos();
  auto out = model::generate(*m, {tok.encode("The history of the", true)}, s);
  EXPECT_FALSE(out[0].tokens.empty());
}

class DefaultModelOnWikiSlice : public ::testing::Test {
 protected:
  void SetUp() override {
    SAGEVAL_REQUIRE_DATA_DIR();
    card_ = model_card_figures().at("ci_slice");
    std::string text = data::read_text_file(data::resolve_dataset("wikitext2-test"));
    text.resize(card_.at("bytes").get<size_t>());
    tokens_ = model::ByteTokenizer().encode(text, true);
    model_ = model::LlamaModel::load(kModel);
  }
  nlohmann::json card_;
  std::vector<int64_t> tokens_;
  std::unique_ptr<model::LlamaModel> model_;
};

TEST_F(DefaultModelOnWikiSlice, BitsPerByteMatchesTheModelCard) {
  const auto r = eval::score_windows(*model_, tokens_, {card_.at("context").get<int64_t>()}, 4);
  const double card_bpb = card_.at("bits_per_byte").get<double>();
  const double diff_nats = std::abs(r.bits_per_token() - card_bpb) * std::log(2.0);
  std::printf("[ figures  ] default model, wiki.test.raw slice: %.5f bits/byte (model card %.5f), |diff| %.2e nats/byte\n",
              r.bits_per_token(), card_bpb, diff_nats);
  EXPECT_EQ(r.tokens_scored, card_.at("bytes").get<int64_t>());
  EXPECT_LT(diff_nats, 1e-3) << "runner and model card disagree";
}

TEST_F(DefaultModelOnWikiSlice, SixteenBitAndInt8AttentionStayClose) {
  const auto base = eval::score_windows(*model_, tokens_, {1024}, 4);
  for (const char* name : {"fp16", "sage_int8"}) {
    model_->set_attention({name, {}});
    const auto r = eval::score_windows(*model_, tokens_, {1024}, 4);
    std::printf("[ figures  ] default model, wiki slice, %s attention (CPU emulation): %.5f bits/byte (math %.5f)\n",
                name, r.bits_per_token(), base.bits_per_token());
    EXPECT_LT(std::abs(r.bits_per_token() / base.bits_per_token() - 1.0), 0.01) << name;
  }
}

}  // namespace
}  // namespace sageval::testing
