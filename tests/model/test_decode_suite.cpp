// Decode suite (model-level): LlamaModel::decode's three ways of running a step give the same logits. On a GPU,
// per backend (the suite's baseline and candidate): the CUDA-graph replay against the same static step launched
// kernel by kernel (gate: /model/decode_graph/max_abs_logit_difference), over steps that cross a key bucket
// (256 -> the capacity), at batch 2; and the static step against forward() with the keys sliced on the host
// (the same gate: from 256 keys on both are decode calls and take the same kernel). On the CPU, and with sdpa
// (which does not take kv_lengths on CUDA), decode runs forward(), says why, and gives its logits exactly.
#include <gtest/gtest.h>

#include <cstdio>

#include "sageval/attention.h"
#include "sageval/kernels/attention_problem.h"
#include "sageval/thresholds.h"
#include "support/suite_settings.h"

namespace sageval::testing {
namespace {

using model::DecodeMode;

TEST(Decode, GraphStaticAndForwardStepsAgree) {
  SAGEVAL_SUITE_PRECONDITIONS();
  auto model = load_suite_model();
  const eval::BackendPair pair = suite_pair(false);
  std::vector<std::pair<std::string, model::AttentionSelection>> backends{
      {pair.baseline, {pair.baseline, {}}}, {pair.candidate, pair.candidate_selection()}};
  if (suites_on_gpu() && has_backend("sdpa")) backends.push_back({"sdpa", {"sdpa", {}}});
  // Lengths 256..267: buckets 256 and 267 (the capacity); from 256 keys on forward() is a decode call too (below,
  // it takes the prefill kernel, and the caches would part at the first step).
  const int64_t batch = 2, prompt = kernels::kDecodeMinKeys - 1, steps = 12;
  at::Generator gen = at::detail::createCPUGenerator(7);
  const at::Tensor tokens =
      at::randint(0, model->config().vocab_size, {batch, prompt}, gen, at::TensorOptions().dtype(at::kLong));
  const double gate = Thresholds::defaults().number("/model/decode_graph/max_abs_logit_difference");
  for (const auto& [backend, selection] : backends) {
    model->set_attention(selection);
    const DecodeMode modes[3] = {DecodeMode::kGraph, DecodeMode::kStatic, DecodeMode::kForward};
    std::vector<model::KVCache> caches;
    for (int i = 0; i < 3; ++i) {
      caches.push_back(model->make_cache(batch, prompt + steps));
      model->forward(tokens, &caches.back());
    }
    at::Tensor next = at::randint(0, model->config().vocab_size, {batch, 1}, gen, at::TensorOptions().dtype(at::kLong));
    double graph_vs_static = 0.0, static_vs_forward = 0.0;
    for (int64_t s = 0; s < steps; ++s) {
      at::Tensor logits[3];
      for (int i = 0; i < 3; ++i) logits[i] = model->decode(next, caches[i], modes[i]).clone();
      graph_vs_static = std::max(graph_vs_static, (logits[0] - logits[1]).abs().max().item<double>());
      static_vs_forward = std::max(static_vs_forward, (logits[1] - logits[2]).abs().max().item<double>());
      ASSERT_TRUE(at::isfinite(logits[0]).all().item<bool>()) << backend << " step " << s;
      next = logits[0].argmax(-1, /*keepdim=*/true).cpu();
    }
    for (int i = 0; i < 3; ++i) EXPECT_EQ(caches[i].length(), prompt + steps);
    const bool static_runs = model->decode_mode_used(caches[1]) == DecodeMode::kStatic;
    const bool static_expected = model->decode_graph_refusal().empty();
    EXPECT_EQ(static_runs, static_expected) << backend << ": " << model->decode_fallback_reason(caches[1]);
    std::printf("[ figures  ] decode %s: graph vs static max |logit diff| %.3e, static vs forward %.3e; graph mode "
                "used: %s%s%s, graphs captured: %lld\n",
                backend.c_str(), graph_vs_static, static_vs_forward,
                model::to_string(model->decode_mode_used(caches[0])),
                model->decode_fallback_reason(caches[0]).empty() ? "" : " because ",
                model->decode_fallback_reason(caches[0]).c_str(), static_cast<long long>(caches[0].captured_graphs()));
    if (!static_runs) {  // the CPU, or sdpa (no kv_lengths on CUDA): forward() throughout, exactly
      EXPECT_EQ(model->decode_mode_used(caches[0]), DecodeMode::kForward) << backend;
      EXPECT_FALSE(model->decode_fallback_reason(caches[0]).empty()) << backend;
      EXPECT_EQ(graph_vs_static, 0.0) << backend;
      EXPECT_EQ(static_vs_forward, 0.0) << backend;
      continue;
    }
    EXPECT_EQ(model->decode_mode_used(caches[0]), DecodeMode::kGraph)
        << backend << ": " << model->decode_fallback_reason(caches[0]);
    EXPECT_EQ(model->decode_mode_used(caches[1]), DecodeMode::kStatic) << backend;
    EXPECT_EQ(caches[0].captured_graphs(), 2) << backend << ": buckets 256 and 267";
    EXPECT_LE(graph_vs_static, gate) << backend << ": the graph replay differs from the same step launched eagerly";
    // Same kernel, same chunks (whole tiles): a wrong position, bucket or length shows here, not against the graph.
    EXPECT_LE(static_vs_forward, gate) << backend << ": the static step differs from forward()";
  }
}

// set_attention makes a cache's graphs stale: the next graph step over the same cache and key bucket captures
// again instead of replaying the graph of the previous attention (whose logits may be the same: fp16 and
// sage_int8 decode alike, so the count is what tells).
TEST(Decode, SetAttentionRecapturesTheCachesGraphs) {
  SAGEVAL_SUITE_PRECONDITIONS();
  if (!suites_on_gpu()) GTEST_SKIP() << "decode steps run as CUDA graphs on a GPU only";
  auto model = load_suite_model();
  const eval::BackendPair pair = suite_pair(false);
  model->set_attention({pair.baseline, {}});
  if (const std::string why = model->decode_graph_refusal(); !why.empty()) GTEST_SKIP() << pair.baseline << ": " << why;
  const int64_t batch = 1, prompt = kernels::kDecodeMinKeys;
  at::Generator gen = at::detail::createCPUGenerator(11);
  const auto random_tokens = [&](int64_t n) {
    return at::randint(0, model->config().vocab_size, {batch, n}, gen, at::TensorOptions().dtype(at::kLong));
  };
  model::KVCache cache = model->make_cache(batch, prompt + 3);  // one key bucket for the three steps
  model->forward(random_tokens(prompt), &cache);
  model->decode(random_tokens(1), cache, DecodeMode::kGraph);
  model->decode(random_tokens(1), cache, DecodeMode::kGraph);
  ASSERT_EQ(model->decode_mode_used(cache), DecodeMode::kGraph) << model->decode_fallback_reason(cache);
  EXPECT_EQ(cache.captured_graphs(), 1) << "the second step of the bucket should replay the first one's graph";
  model->set_attention(pair.candidate_selection());
  if (const std::string why = model->decode_graph_refusal(); !why.empty()) GTEST_SKIP() << pair.candidate << ": " << why;
  const at::Tensor logits = model->decode(random_tokens(1), cache, DecodeMode::kGraph);
  EXPECT_EQ(model->decode_mode_used(cache), DecodeMode::kGraph) << model->decode_fallback_reason(cache);
  EXPECT_EQ(cache.captured_graphs(), 2) << "after set_attention the graph of the previous attention was replayed";
  EXPECT_TRUE(at::isfinite(logits).all().item<bool>());
}

TEST(Decode, KeyBucketsArePowersOfTwoFrom256UpToTheCapacity) {
  EXPECT_EQ(model::decode_key_bucket(1, 10000), 256);
  EXPECT_EQ(model::decode_key_bucket(256, 10000), 256);
  EXPECT_EQ(model::decode_key_bucket(257, 10000), 512);
  EXPECT_EQ(model::decode_key_bucket(5000, 10000), 8192);
  EXPECT_EQ(model::decode_key_bucket(9000, 10000), 10000);
  EXPECT_EQ(model::decode_key_bucket(100, 200), 200);
  EXPECT_THROW(model::decode_key_bucket(0, 200), std::invalid_argument);
  EXPECT_THROW(model::decode_key_bucket(201, 200), std::invalid_argument);
}

}  // namespace
}  // namespace sageval::testing
