// The window iterator behind every perplexity figure: disjoint and sliding windows score every token exactly
// once; sliding windows give each scored token at least context - stride tokens of history after the first.
#include <gtest/gtest.h>

#include <numeric>

#include "sageval/eval/backend_comparison.h"
#include "sageval/eval/perplexity.h"

namespace sageval::testing {
namespace {

struct WindowCase {
  int64_t tokens, context, stride, batch;
  std::string name() const {
    return "T" + std::to_string(tokens) + "_C" + std::to_string(context) + "_S" + std::to_string(stride) + "_B" +
           std::to_string(batch);
  }
};

class Windows : public ::testing::TestWithParam<WindowCase> {};

TEST_P(Windows, EveryTargetScoredOnceWithEnoughHistory) {
  const WindowCase& c = GetParam();
  std::vector<int64_t> tokens(static_cast<size_t>(c.tokens));
  std::iota(tokens.begin(), tokens.end(), 0);  // token value == its position
  const eval::WindowProtocol protocol{c.context, c.stride};
  std::vector<int> scored(tokens.size(), 0);
  int64_t first_scored_window = 0;
  eval::for_each_window_batch(tokens, protocol, c.batch, [&](const at::Tensor& in, const at::Tensor& tg, int64_t from) {
    ASSERT_LE(in.size(0), c.batch);
    ASSERT_LE(in.size(1), c.context);
    ASSERT_TRUE(at::equal(tg, in + 1)) << "targets are the inputs shifted by one";
    for (int64_t b = 0; b < in.size(0); ++b) {
      const int64_t start = in[b][0].item<int64_t>();
      for (int64_t p = from; p < in.size(1); ++p) {
        const int64_t target = tg[b][p].item<int64_t>();
        ++scored[static_cast<size_t>(target)];
        // History = positions before p inside this window; a window that starts at 0 has the whole prefix.
        if (protocol.sliding() && start > 0) EXPECT_GE(p, c.context - c.stride) << "target " << target;
      }
      if (start == 0) ++first_scored_window;
    }
  });
  EXPECT_EQ(scored[0], 0) << "BOS is never a target";
  for (size_t t = 1; t < scored.size(); ++t) ASSERT_EQ(scored[t], 1) << "target " << t;
  EXPECT_EQ(first_scored_window, 1);
}

INSTANTIATE_TEST_SUITE_P(Protocols, Windows,
                         ::testing::Values(WindowCase{2, 4, 0, 1}, WindowCase{100, 16, 0, 3}, WindowCase{97, 16, 0, 4},
                                           WindowCase{100, 16, 8, 1}, WindowCase{97, 16, 8, 4},
                                           WindowCase{101, 16, 5, 2}, WindowCase{10, 16, 4, 2},
                                           WindowCase{100, 16, 16, 2}, WindowCase{100, 16, 1, 8}),
                         [](const ::testing::TestParamInfo<WindowCase>& info) { return info.param.name(); });

TEST(Windows, SlidingUsesMoreWindowsThanDisjoint) {
  std::vector<int64_t> tokens(1001, 1);
  int disjoint = 0, sliding = 0;
  eval::for_each_window_batch(tokens, {100, 0}, 1, [&](const at::Tensor&, const at::Tensor&, int64_t) { ++disjoint; });
  eval::for_each_window_batch(tokens, {100, 25}, 1, [&](const at::Tensor&, const at::Tensor&, int64_t) { ++sliding; });
  EXPECT_EQ(disjoint, 10);
  EXPECT_EQ(sliding, 1 + (1000 - 100 + 24) / 25);
}

TEST(Windows, BadProtocolIsNamed) {
  std::vector<int64_t> tokens(10, 1);
  auto noop = [](const at::Tensor&, const at::Tensor&, int64_t) {};
  EXPECT_THROW(eval::for_each_window_batch(tokens, {0, 0}, 1, noop), std::invalid_argument);
  EXPECT_THROW(eval::for_each_window_batch(tokens, {8, -1}, 1, noop), std::invalid_argument);
  EXPECT_THROW(eval::for_each_window_batch(tokens, {8, 0}, 0, noop), std::invalid_argument);
  EXPECT_THROW(eval::for_each_window_batch({1}, {8, 0}, 1, noop), std::invalid_argument);
}

TEST(CountWords, SplitsLikePythonReSplit) {
  EXPECT_EQ(eval::count_words("a b  c"), 3);
  EXPECT_EQ(eval::count_words(" a b\n"), 4);  // re.split gives ['', 'a', 'b', '']
  EXPECT_EQ(eval::count_words(""), 1);
}

}  // namespace
}  // namespace sageval::testing
