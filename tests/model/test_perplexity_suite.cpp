// Perplexity suite (model-level, CPU sizes): the candidate backend (default sage_int8; --attention-backend)
// against the baseline (fp16), and the baseline against math, on WikiText-2 test and PTB test with the default
// model. Protocol of lm-evaluation-harness: BOS, then disjoint windows of the context length, every token
// scored once; token perplexity, bits per byte and word perplexity (words = re.split(r"\s+", text)), plus
// llama.cpp's KL-divergence statistics. Sizes: SAGEVAL_SUITE_MAX_BYTES (default 4096 bytes of each set) and
// SAGEVAL_SUITE_CONTEXT (default 1024); model: SAGEVAL_MODEL (default data/models/sageval-byte-llama).
#include <gtest/gtest.h>

#include "support/test_helpers.h"

#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "sageval/data/datasets.h"
#include "sageval/eval/backend_comparison.h"
#include "sageval/model/tokenizer.h"
#include "sageval/record.h"
#include "sageval/thresholds.h"
#include "support/test_options.h"

namespace sageval::testing {
namespace {

struct PerplexityCase {
  std::string dataset;   // registry name
  bool against_math;     // false: candidate vs baseline; true: baseline vs math (the FP16 noise floor)
  std::string name() const {
    std::string d = dataset;
    for (char& c : d)
      if (c == '-') c = '_';
    return d + (against_math ? "_BaselineVsMath" : "_CandidateVsBaseline");
  }
};

void PrintTo(const PerplexityCase& c, std::ostream* os) { *os << c.name(); }

class Perplexity : public ::testing::TestWithParam<PerplexityCase> {};

TEST_P(Perplexity, CandidateWithinGateOfBaseline) {
  SAGEVAL_REQUIRE_DATA_DIR();
  const PerplexityCase& c = GetParam();
  const std::string model_dir = suite_model_dir();
  const int64_t max_bytes = env_int_or("SAGEVAL_SUITE_MAX_BYTES", 4096);
  const int64_t context = env_int_or("SAGEVAL_SUITE_CONTEXT", 1024);
  const std::string baseline = env_or("SAGEVAL_BASELINE", "fp16");
  const eval::BackendPair pair = c.against_math ? eval::BackendPair{"math", baseline}
                                                : eval::BackendPair{baseline, candidate_backend()};
  std::string text = data::read_text_file(data::resolve_dataset(c.dataset));
  if (max_bytes > 0 && static_cast<int64_t>(text.size()) > max_bytes) text.resize(static_cast<size_t>(max_bytes));
  auto model = model::LlamaModel::load(model_dir);
  auto tokenizer = model::make_tokenizer(model->config(), model->folder());
  const auto cmp = eval::compare_backends_on_windows(*model, tokenizer->encode(text, true), context, pair, 4);
  const eval::TokenStatsSummary s = cmp.tokens.summarize();
  const eval::LogitStats logits = cmp.logits.stats();
  const int64_t words = eval::count_words(text);
  const double total_base = s.nll_base_mean * static_cast<double>(s.n), total_cand = s.nll_cand_mean * static_cast<double>(s.n);
  std::printf("[ figures  ] %s: %s vs %s, %lld tokens, %lld windows of %lld\n%s", c.name().c_str(),
              pair.candidate.c_str(), pair.baseline.c_str(), static_cast<long long>(s.n),
              static_cast<long long>(cmp.windows), static_cast<long long>(context), eval::format_summary(s).c_str());

  const double max_dev = Thresholds::defaults().number("/model/perplexity/max_ppl_ratio_deviation");
  const double dev = std::abs(s.ppl_ratio - 1.0);
  Record r;
  r.suite = "perplexity";
  r.case_name = c.name();
  r.candidate = pair.candidate;
  r.baseline = pair.baseline;
  r.device = model->device().str();
  r.figures = eval::to_json(s);
  r.figures["protocol"] = fmt::format(
      "BOS, then disjoint windows of {} tokens, every token scored once (lm-evaluation-harness rolling "
      "log-likelihood); first {} bytes of {}", context, text.size(), c.dataset);
  r.figures["bits_per_byte_base"] = json_number(total_base / std::log(2.0) / static_cast<double>(text.size()));
  r.figures["bits_per_byte_cand"] = json_number(total_cand / std::log(2.0) / static_cast<double>(text.size()));
  r.figures["word_perplexity_base"] = json_number(std::exp(total_base / static_cast<double>(words)));
  r.figures["word_perplexity_cand"] = json_number(std::exp(total_cand / static_cast<double>(words)));
  r.figures["words"] = words;
  r.figures["logits_max_abs"] = json_number(logits.max_abs);
  r.figures["logits_mse"] = json_number(logits.mse);
  r.figures["logits_cosine"] = json_number(logits.cosine);
  r.figures["model"] = model_dir;
  r.gates.push_back({fmt::format("|ppl_cand / ppl_base - 1| <= {}", max_dev), dev, max_dev, dev <= max_dev});
  append_record(r);
  EXPECT_LE(dev, max_dev) << "perplexity ratio " << s.ppl_ratio << " +- " << s.ppl_ratio_unc << " (threshold "
                          << max_dev << ", key /model/perplexity/max_ppl_ratio_deviation in "
                          << Thresholds::defaults().path() << ")\n  rerun: ctest -R '" << c.name()
                          << "' (env SAGEVAL_SUITE_MAX_BYTES, SAGEVAL_SUITE_CONTEXT, SAGEVAL_MODEL)";
  EXPECT_EQ(s.n, static_cast<int64_t>(text.size()));
}

INSTANTIATE_TEST_SUITE_P(Suite, Perplexity,
                         ::testing::Values(PerplexityCase{"wikitext2-test", false}, PerplexityCase{"wikitext2-test", true},
                                           PerplexityCase{"ptb-test", false}, PerplexityCase{"ptb-test", true}),
                         [](const ::testing::TestParamInfo<PerplexityCase>& info) { return info.param.name(); });

TEST(CountWords, SplitsLikePythonReSplit) {
  EXPECT_EQ(eval::count_words("a b  c"), 3);
  EXPECT_EQ(eval::count_words(" a b\n"), 4);  // re.split gives ['', 'a', 'b', '']
  EXPECT_EQ(eval::count_words(""), 1);
}

}  // namespace
}  // namespace sageval::testing
