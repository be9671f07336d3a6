// LogitsDiff suite (model-level): logits of short prompts (100 tokens) and long ones (SAGEVAL_SUITE_LONG_TOKENS:
// CPU 2048, GPU 4096) from WikiText-2 test, SAGEVAL_SUITE_PROMPTS of each (CPU 3 short and 1 long, GPU 16 of each), candidate against baseline and baseline
// against math: max abs difference, MSE, cosine, and the token statistics (KLD, Δp, top-1 agreement).
// Gate: logit cosine (data/thresholds.json /model/logits_diff/min_logit_cosine).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "sageval/data/datasets.h"
#include "sageval/eval/backend_comparison.h"
#include "sageval/model/tokenizer.h"
#include "sageval/record.h"
#include "sageval/thresholds.h"
#include "support/suite_settings.h"

namespace sageval::testing {
namespace {

struct LogitsCase {
  bool long_prompts;
  bool against_math;
  std::string name() const {
    return std::string(long_prompts ? "Long" : "Short") + (against_math ? "_BaselineVsMath" : "_CandidateVsBaseline");
  }
};
void PrintTo(const LogitsCase& c, std::ostream* os) { *os << c.name(); }

class LogitsDiff : public ::testing::TestWithParam<LogitsCase> {};

TEST_P(LogitsDiff, LogitsStayAligned) {
  SAGEVAL_SUITE_PRECONDITIONS();
  const LogitsCase& c = GetParam();
  const eval::BackendPair pair = suite_pair(c.against_math);
  auto model = load_suite_model();
  auto tokenizer = model::make_tokenizer(model->config(), model->folder());
  const std::string text = data::read_text_file(data::resolve_dataset("wikitext2-test"));
  const int64_t len = c.long_prompts ? suite_size("SAGEVAL_SUITE_LONG_TOKENS", 2048, 4096) : 100;
  const int64_t prompts = suite_size("SAGEVAL_SUITE_PROMPTS", c.long_prompts ? 1 : 3, 16);
  eval::TokenComparison all_tokens;
  eval::LogitAccumulator all_logits;
  for (int64_t p = 0; p < prompts; ++p) {
    const size_t at = static_cast<size_t>(p + 1) * text.size() / static_cast<size_t>(prompts + 1);
    auto ids = tokenizer->encode(text.substr(at, static_cast<size_t>(len)), true);
    // One window holding the whole prompt: every position's logits compared.
    const auto cmp = eval::compare_backends_on_windows(*model, ids, {len}, pair);
    all_tokens.merge(cmp.tokens);
    all_logits.merge(cmp.logits);
  }
  const eval::TokenStatsSummary s = all_tokens.summarize();
  const eval::LogitStats l = all_logits.stats();
  std::printf("[ figures  ] logits %s: %s vs %s, %lld tokens: max_abs %.4e, mse %.4e, cosine %.7f, mean KLD %.3e, "
              "same top-1 %.4f\n", c.name().c_str(), pair.candidate.c_str(), pair.baseline.c_str(),
              static_cast<long long>(s.n), l.max_abs, l.mse, l.cosine, s.kld_mean, s.same_top1);
  const double min_cos = Thresholds::defaults().number("/model/logits_diff/min_logit_cosine");
  Record r = suite_record("logits_diff", c.name(), pair.candidate, pair.baseline, *model, "wikitext2-test");
  r.figures.update(eval::to_json(s));
  r.figures["prompts"] = prompts;
  r.figures["prompt_tokens"] = len;
  r.figures["logits_max_abs"] = json_number(l.max_abs);
  r.figures["logits_mse"] = json_number(l.mse);
  r.figures["logits_cosine"] = json_number(l.cosine);
  r.gates.push_back(Gate::at_least("/model/logits_diff/min_logit_cosine: logit cosine", l.cosine, min_cos));
  append_record(r);
  expect_gates(r, c.name(), rerun_hint(c.name()));
}

INSTANTIATE_TEST_SUITE_P(Suite, LogitsDiff,
                         ::testing::Values(LogitsCase{false, false}, LogitsCase{false, true}, LogitsCase{true, false},
                                           LogitsCase{true, true}),
                         [](const ::testing::TestParamInfo<LogitsCase>& info) { return info.param.name(); });

}  // namespace
}  // namespace sageval::testing
