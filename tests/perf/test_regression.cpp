// The benchmark regression check on hand-made runs: slower beyond the noise margin is flagged, noise is not,
// a configuration that disappeared is flagged, a new one is listed.
#include <gtest/gtest.h>

#include "sageval/perf/regression.h"

namespace sageval::testing {
namespace {

perf::TimedFigure fig(const std::string& key, double median, double min, double max) {
  return {key, {median, min, max, 10}};
}

TEST(TimingRegression, FlagsSlowdownBeyondTheSpreadOnly) {
  const std::vector<perf::TimedFigure> old_run = {fig("a", 10.0, 9.9, 10.1), fig("b", 10.0, 9.0, 11.0),
                                                  fig("c", 10.0, 9.95, 10.05), fig("gone", 1.0, 1.0, 1.0)};
  const std::vector<perf::TimedFigure> new_run = {fig("a", 11.0, 10.9, 11.1),   // +10% > 5% floor: regression
                                                  fig("b", 11.5, 11.0, 12.0),   // +15% < 20% spread of the old run
                                                  fig("c", 9.0, 8.9, 9.1),      // faster
                                                  fig("fresh", 2.0, 2.0, 2.0)};
  const auto changes = perf::compare_timings(old_run, new_run);
  ASSERT_EQ(changes.size(), 5u);
  EXPECT_EQ(changes[0].status, "compared");
  EXPECT_NEAR(changes[0].change, 0.10, 1e-12);
  EXPECT_NEAR(changes[0].margin, 0.05, 1e-12);
  EXPECT_TRUE(changes[0].regressed);
  EXPECT_NEAR(changes[1].margin, 0.20, 1e-12);
  EXPECT_FALSE(changes[1].regressed);
  EXPECT_FALSE(changes[2].regressed);
  EXPECT_LT(changes[2].change, 0.0);
  EXPECT_EQ(changes[3].status, "missing_in_new");
  EXPECT_TRUE(changes[3].regressed);
  EXPECT_EQ(changes[4].key, "fresh");
  EXPECT_EQ(changes[4].status, "new");
  EXPECT_FALSE(changes[4].regressed);
}

TEST(TimingRegression, ReadsBenchmarkDocumentsSkippingFailedEntries) {
  const nlohmann::json doc = {
      {"prefill", {{{"key", "prefill/fp16/B1_L128"}, {"status", "ok"},
                    {"timing", {{"median_ms", 2.0}, {"min_ms", 1.5}, {"max_ms", 3.0}, {"runs", 10}}}},
                   {{"key", "prefill/fp16/B32_L8192"}, {"status", "out_of_memory"}}}},
      {"decode", nlohmann::json::array()}};
  const auto figs = perf::timed_figures_of(doc);
  ASSERT_EQ(figs.size(), 1u);
  EXPECT_EQ(figs[0].key, "prefill/fp16/B1_L128");
  EXPECT_DOUBLE_EQ(figs[0].timing.median_ms, 2.0);
  EXPECT_DOUBLE_EQ(figs[0].timing.spread(), 0.75);
}

TEST(TimingSummary, MedianMinMax) {
  const perf::Timing t = perf::summarize_times({3.0, 1.0, 2.0, 10.0});
  EXPECT_DOUBLE_EQ(t.median_ms, 2.5);
  EXPECT_DOUBLE_EQ(t.min_ms, 1.0);
  EXPECT_DOUBLE_EQ(t.max_ms, 10.0);
  EXPECT_EQ(t.runs, 4);
  EXPECT_THROW(perf::summarize_times({}), std::invalid_argument);
}

}  // namespace
}  // namespace sageval::testing
