// Generation suite (model-level): greedy continuations of prompts taken from WikiText-2 test work
// with every backend (non-empty, deterministic, ending at EOS or the length limit), and the baseline's and the
// candidate's continuations are compared: fraction identical, mean common-prefix length, first-divergence
// positions (recorded; greedy decoding amplifies any difference, so no gate on identity).
// SAGEVAL_SUITE_NEW_TOKENS (CPU 48, GPU 128) and SAGEVAL_SUITE_PROMPTS (CPU 4, GPU 16).
#include <gtest/gtest.h>

#include <map>

#include <fmt/format.h>

#include "sageval/data/datasets.h"
#include "sageval/model/generation.h"
#include "sageval/model/tokenizer.h"
#include "sageval/record.h"
#include "support/suite_settings.h"

namespace sageval::testing {
namespace {

TEST(Generation, EveryBackendGeneratesAndContinuationsAreCompared) {
  SAGEVAL_SUITE_PRECONDITIONS();
  const eval::BackendPair pair = suite_pair(false);
  const std::string base = pair.baseline, cand = pair.candidate;
  auto selection_of = [&](const std::string& name) {
    return name == cand ? pair.candidate_selection() : model::AttentionSelection{name, {}};
  };
  auto model = load_suite_model();
  auto tokenizer = model::make_tokenizer(model->config(), model->folder());
  const std::string text = data::read_text_file(data::resolve_dataset("wikitext2-test"));
  const int64_t n_prompts = suite_size("SAGEVAL_SUITE_PROMPTS", 4, 16);
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t i = 0; i < n_prompts; ++i) {
    // 48 bytes starting at a line start, spread over the file.
    size_t at = text.find('\n', static_cast<size_t>(i) * text.size() / static_cast<size_t>(n_prompts)) + 1;
    prompts.push_back(tokenizer->encode(text.substr(at, 48), true));
  }
  model::SamplingOptions greedy;
  greedy.max_new_tokens = suite_size("SAGEVAL_SUITE_NEW_TOKENS", 48, 128);
  greedy.eos = tokenizer->eos();
  std::map<std::string, std::vector<model::Generation>> outputs;
  for (const std::string& name : {std::string("math"), base, cand}) {
    model->set_attention(selection_of(name));
    auto out = model::generate(*model, prompts, greedy);
    for (size_t p = 0; p < out.size(); ++p) {
      EXPECT_TRUE(out[p].stopped_at_eos || static_cast<int64_t>(out[p].tokens.size()) == greedy.max_new_tokens)
          << name << " prompt " << p << " stopped early without EOS";
      EXPECT_FALSE(out[p].tokens.empty() && !out[p].stopped_at_eos) << name << " prompt " << p;
    }
    outputs[name] = out;
  }
  model->set_attention(pair.candidate_selection());
  auto again = model::generate(*model, prompts, greedy);
  for (size_t p = 0; p < prompts.size(); ++p)
    EXPECT_EQ(again[p].tokens, outputs[cand][p].tokens) << cand << " is not deterministic on prompt " << p;

  for (const auto& [b, c] : {std::pair<std::string, std::string>{base, cand}, {"math", base}}) {
    int identical = 0;
    double prefix_sum = 0;
    nlohmann::json divergence = nlohmann::json::array();
    for (size_t p = 0; p < prompts.size(); ++p) {
      const auto& x = outputs[b][p].tokens;
      const auto& y = outputs[c][p].tokens;
      size_t k = 0;
      while (k < x.size() && k < y.size() && x[k] == y[k]) ++k;
      const bool same = x == y;
      identical += same;
      prefix_sum += static_cast<double>(k);
      divergence.push_back(same ? nlohmann::json(nullptr) : nlohmann::json(k));
    }
    Record r = suite_record("generation", c == cand ? "CandidateVsBaseline" : "BaselineVsMath", c, b, *model, "wikitext2-test");
    r.figures.update(nlohmann::json{{"prompts", prompts.size()},
                 {"max_new_tokens", greedy.max_new_tokens},
                 {"identical_fraction", static_cast<double>(identical) / static_cast<double>(prompts.size())},
                 {"mean_common_prefix_tokens", prefix_sum / static_cast<double>(prompts.size())},
                 {"first_divergence", divergence},
                 {"example_baseline", tokenizer->decode(outputs[b][0].tokens)},
                 {"example_candidate", tokenizer->decode(outputs[c][0].tokens)}});
    append_record(r);
    std::printf("[ figures  ] generation %s vs %s: %d/%zu identical, mean common prefix %.1f tokens\n", c.c_str(),
                b.c_str(), identical, prompts.size(), prefix_sum / static_cast<double>(prompts.size()));
  }
}

}  // namespace
}  // namespace sageval::testing
