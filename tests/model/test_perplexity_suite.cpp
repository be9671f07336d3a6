// Perplexity suite (model-level): the candidate backend (default sage_int8; --attention-backend) against the
// baseline (fp16), and the baseline against math, on WikiText-2 test and PTB test with the default model.
// Two protocols: lm-evaluation-harness's (BOS, then disjoint windows of the context length, every token scored
// once) and the sliding window (stride SAGEVAL_SUITE_STRIDE, default half the context). Token perplexity, bits
// per byte and word perplexity (words = re.split(r"\s+", text)), plus llama.cpp's KL-divergence statistics.
// Sizes: SAGEVAL_SUITE_MAX_BYTES of each set (CPU 2048, a smoke run: 42 s on one core against 92 s with 4096;
// GPU 0 = the whole set) and SAGEVAL_SUITE_CONTEXT
// (CPU 1024; GPU the model's max_position_embeddings).
#include <gtest/gtest.h>

#include <cmath>

#include <fmt/format.h>

#include "sageval/data/datasets.h"
#include "sageval/eval/backend_comparison.h"
#include "sageval/model/tokenizer.h"
#include "sageval/record.h"
#include "sageval/thresholds.h"
#include "support/suite_settings.h"

namespace sageval::testing {
namespace {

struct PerplexityCase {
  std::string dataset;  // registry name
  bool against_math;    // false: candidate vs baseline; true: baseline vs math (the FP16 noise floor)
  bool sliding;
  std::string name() const {
    std::string d = dataset;
    for (char& c : d)
      if (c == '-') c = '_';
    return d + (sliding ? "_Sliding" : "_Disjoint") + (against_math ? "_BaselineVsMath" : "_CandidateVsBaseline");
  }
};

void PrintTo(const PerplexityCase& c, std::ostream* os) { *os << c.name(); }

class Perplexity : public ::testing::TestWithParam<PerplexityCase> {};

TEST_P(Perplexity, CandidateWithinGateOfBaseline) {
  SAGEVAL_SUITE_PRECONDITIONS();
  const PerplexityCase& c = GetParam();
  auto model = load_suite_model();
  const int64_t max_bytes = suite_size("SAGEVAL_SUITE_MAX_BYTES", 2048, 0);
  const int64_t context = suite_size("SAGEVAL_SUITE_CONTEXT", 1024, model->config().max_position_embeddings);
  const int64_t stride = c.sliding ? env_int_or("SAGEVAL_SUITE_STRIDE", context / 2) : 0;
  const eval::WindowProtocol protocol{context, stride};
  const eval::BackendPair pair = suite_pair(c.against_math);
  std::string text = data::read_text_file(data::resolve_dataset(c.dataset));
  if (max_bytes > 0 && static_cast<int64_t>(text.size()) > max_bytes) text.resize(static_cast<size_t>(max_bytes));
  auto tokenizer = model::make_tokenizer(model->config(), model->folder());
  // About 32K tokens per forward pass: four windows at the CPU context, four at 8192.
  const int64_t batch = std::max<int64_t>(1, 32768 / context);
  const auto cmp = eval::compare_backends_on_windows(*model, tokenizer->encode(text, true), protocol, pair, batch);
  const eval::TokenStatsSummary s = cmp.tokens.summarize();
  const eval::LogitStats logits = cmp.logits.stats();
  const int64_t words = eval::count_words(text);
  const double total_base = s.nll_base_mean * static_cast<double>(s.n), total_cand = s.nll_cand_mean * static_cast<double>(s.n);
  std::printf("[ figures  ] %s: %s vs %s on %s, %lld tokens, %lld windows\n%s", c.name().c_str(),
              pair.candidate.c_str(), pair.baseline.c_str(), model->device().str().c_str(),
              static_cast<long long>(s.n), static_cast<long long>(cmp.windows), eval::format_summary(s).c_str());

  const double max_dev = Thresholds::defaults().number("/model/perplexity/max_ppl_ratio_deviation");
  const double dev = std::abs(s.ppl_ratio - 1.0);
  Record r = suite_record("perplexity", c.name(), pair.candidate, pair.baseline, *model, c.dataset);
  r.figures.update(eval::to_json(s));
  r.figures["protocol"] = fmt::format("{}; first {} bytes of {}", protocol.describe(), text.size(), c.dataset);
  r.figures["sliding"] = c.sliding;
  r.figures["context"] = context;
  r.figures["stride"] = stride;
  r.figures["bytes"] = text.size();
  r.figures["bits_per_byte_base"] = json_number(total_base / std::log(2.0) / static_cast<double>(text.size()));
  r.figures["bits_per_byte_cand"] = json_number(total_cand / std::log(2.0) / static_cast<double>(text.size()));
  r.figures["word_perplexity_base"] = json_number(std::exp(total_base / static_cast<double>(words)));
  r.figures["word_perplexity_cand"] = json_number(std::exp(total_cand / static_cast<double>(words)));
  r.figures["words"] = words;
  r.figures["logits_max_abs"] = json_number(logits.max_abs);
  r.figures["logits_mse"] = json_number(logits.mse);
  r.figures["logits_cosine"] = json_number(logits.cosine);
  r.gates.push_back(Gate::at_most("/model/perplexity/max_ppl_ratio_deviation: |ppl_cand / ppl_base - 1|", dev, max_dev));
  append_record(r);
  expect_gates(r, fmt::format("perplexity ratio {} +- {}", s.ppl_ratio, s.ppl_ratio_unc), rerun_hint(c.name()));
  EXPECT_EQ(s.n, static_cast<int64_t>(tokenizer->encode(text, false).size())) << "every token scored once";
}

std::vector<PerplexityCase> perplexity_cases() {
  std::vector<PerplexityCase> out;
  for (const char* dataset : {"wikitext2-test", "ptb-test"})
    for (bool sliding : {false, true})
      for (bool against_math : {false, true}) out.push_back({dataset, against_math, sliding});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Suite, Perplexity, ::testing::ValuesIn(perplexity_cases()),
                         [](const ::testing::TestParamInfo<PerplexityCase>& info) { return info.param.name(); });

}  // namespace
}  // namespace sageval::testing
