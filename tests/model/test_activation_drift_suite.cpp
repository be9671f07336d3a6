// Activation-drift suite (model-level): per layer, the attention output and the hidden state after
// the block, candidate (default sage_int8) against baseline (fp16) and baseline against math: relative L1,
// relative L2, max abs, cosine. Shows whether the error grows with depth; gate: final-layer hidden-state
// cosine. Input: the first SAGEVAL_SUITE_CONTEXT bytes of WikiText-2 test (CPU 1024; GPU the model's
// max_position_embeddings), default model (SAGEVAL_MODEL).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "sageval/data/datasets.h"
#include "sageval/metrics.h"
#include "sageval/model/llama_model.h"
#include "sageval/model/tokenizer.h"
#include "sageval/record.h"
#include "sageval/thresholds.h"
#include "support/suite_settings.h"

namespace sageval::testing {
namespace {

nlohmann::json drift_figures(const at::Tensor& a, const at::Tensor& b) {
  const ErrorStats s = compare_tensors(a, b);
  return {{"rel_l1", json_number(s.rel_l1)}, {"rel_l2", json_number(std::sqrt(s.nmse))},
          {"max_abs", json_number(s.max_abs)}, {"cosine", json_number(s.cosine)}};
}

class ActivationDrift : public ::testing::TestWithParam<bool> {};  // param: against math

TEST_P(ActivationDrift, FinalLayerStaysAligned) {
  SAGEVAL_SUITE_PRECONDITIONS();
  const bool against_math = GetParam();
  const eval::BackendPair pair = suite_pair(against_math);
  const std::string &base = pair.baseline, &cand = pair.candidate;
  auto model = load_suite_model();
  const int64_t context = suite_size("SAGEVAL_SUITE_CONTEXT", 1024, model->config().max_position_embeddings);
  std::string text = data::read_text_file(data::resolve_dataset("wikitext2-test"));
  text.resize(static_cast<size_t>(context - 1));
  auto ids = model::make_tokenizer(model->config(), model->folder())->encode(text, true);
  at::Tensor tokens = at::tensor(ids, at::TensorOptions().dtype(at::kLong)).view({1, -1});
  model::LayerCapture base_cap, cand_cap;
  model->set_attention(pair.baseline_selection());
  model->forward(tokens, nullptr, &base_cap);
  model->set_attention(pair.candidate_selection());
  model->forward(tokens, nullptr, &cand_cap);

  Record r = suite_record("activation_drift", against_math ? "BaselineVsMath" : "CandidateVsBaseline", cand, base, *model, "wikitext2-test");
  r.figures["tokens"] = ids.size();
  r.figures["layers"] = nlohmann::json::array();
  std::printf("[ figures  ] activation drift, %s vs %s, %zu tokens\n  layer  attn_cos    attn_relL2  hidden_cos  hidden_relL2\n",
              cand.c_str(), base.c_str(), ids.size());
  const size_t layers = base_cap.hidden.size();
  for (size_t l = 0; l < layers; ++l) {
    nlohmann::json attn = drift_figures(cand_cap.attention_out[l], base_cap.attention_out[l]);
    nlohmann::json hidden = drift_figures(cand_cap.hidden[l], base_cap.hidden[l]);
    r.figures["layers"].push_back({{"layer", l}, {"attention_out", attn}, {"hidden", hidden}});
    std::printf("  %5zu  %.6f  %.3e  %.6f  %.3e\n", l, attn["cosine"].get<double>(), attn["rel_l2"].get<double>(),
                hidden["cosine"].get<double>(), hidden["rel_l2"].get<double>());
  }
  const double final_cos = compare_tensors(cand_cap.hidden.back(), base_cap.hidden.back()).cosine;
  const double min_cos = Thresholds::defaults().number("/model/activation_drift/min_final_layer_cosine");
  r.gates.push_back(
      Gate::at_least("/model/activation_drift/min_final_layer_cosine: final-layer hidden cosine", final_cos, min_cos));
  append_record(r);
  expect_gates(r, "final-layer cosine of " + cand + " against " + base, rerun_hint("ActivationDrift"));
}

INSTANTIATE_TEST_SUITE_P(Suite, ActivationDrift, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "BaselineVsMath" : "CandidateVsBaseline");
                         });

}  // namespace
}  // namespace sageval::testing
