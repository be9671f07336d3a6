#include "sageval/eval/sensitivity.h"

#include <algorithm>
#include <vector>
#include <stdexcept>

#include <fmt/format.h>

#include "sageval/eval/token_stats.h"
#include "sageval/record.h"

namespace sageval::eval {
namespace {

SensitivityRun measure(const BaselineRun& reference, const model::AttentionSelection& selection, std::string what,
                       int64_t layer) {
  const TokenStatsSummary s = reference.compare(selection);
  return {std::move(what), layer, s.n, s.same_top1, s.kld_mean, s.kld_max};
}

// The header's rule, for layers (reference: the all-candidate run) and heads (reference: the candidate in the
// layer only): those whose return to the baseline removes at least half of the reference's mean KLD, else the one
// whose candidate-only run has the largest mean KLD. `index` of the runs is the layer or head.
std::vector<int64_t> guilty_by_rule(const std::vector<SensitivityRun>& only, const std::vector<SensitivityRun>& all_but,
                                    double reference_kld) {
  std::vector<int64_t> guilty;
  for (const SensitivityRun& r : all_but)
    if (reference_kld > 0.0 && r.kld_mean <= 0.5 * reference_kld) guilty.push_back(r.layer);
  if (guilty.empty() && !only.empty())
    guilty.push_back(std::max_element(only.begin(), only.end(), [](const SensitivityRun& a, const SensitivityRun& b) {
                       return a.kld_mean < b.kld_mean;
                     })->layer);
  return guilty;
}

nlohmann::json run_json(const SensitivityRun& r) {
  return {{"what", r.what},
          {"layer", r.layer},
          {"tokens", r.tokens},
          {"same_top1", json_number(r.same_top1)},
          {"kld_mean", json_number(r.kld_mean)},
          {"kld_max", json_number(r.kld_max)}};
}

}  // namespace

at::Tensor forward_in_chunks(const model::LlamaModel& model, const at::Tensor& inputs, int64_t max_tokens_per_forward) {
  const int64_t rows = std::max<int64_t>(1, max_tokens_per_forward / std::max<int64_t>(1, inputs.size(1)));
  std::vector<at::Tensor> out;
  for (int64_t r = 0; r < inputs.size(0); r += rows) out.push_back(model.forward(inputs.slice(0, r, r + rows)));
  return out.size() == 1 ? out.front() : at::cat(out);
}

BaselineRun::BaselineRun(model::LlamaModel& model, const at::Tensor& inputs, const at::Tensor& targets,
                         int64_t score_from, const std::string& baseline, int64_t max_tokens_per_forward, const char* who)
    : model_(model), inputs_(inputs), score_from_(score_from), max_tokens_(max_tokens_per_forward) {
  if (inputs.dim() != 2 || !inputs.sizes().equals(targets.sizes()))
    throw std::invalid_argument(fmt::format("{}: inputs and targets must both be [windows, T]", who));
  if (score_from < 0 || score_from >= inputs.size(1))
    throw std::invalid_argument(fmt::format("{}: score_from {} outside [0, {})", who, score_from, inputs.size(1)));
  model.set_attention({baseline, {}});
  base_ = forward_in_chunks(model, inputs, max_tokens_).slice(1, score_from);
  scored_ = targets.slice(1, score_from).to(base_.device());
}

TokenStatsSummary BaselineRun::compare(const model::AttentionSelection& selection) const {
  model_.set_attention(selection);
  const at::Tensor cand = forward_in_chunks(model_, inputs_, max_tokens_).slice(1, score_from_);
  const int64_t vocab = cand.size(-1);
  TokenComparison cmp;
  cmp.add(base_.reshape({-1, vocab}), cand.reshape({-1, vocab}), scored_.reshape({-1}));
  return cmp.summarize();
}

SensitivityTrace trace_layer_sensitivity(model::LlamaModel& model, const at::Tensor& inputs, const at::Tensor& targets,
                                         int64_t score_from, const BackendPair& pair, bool trace_heads,
                                         int64_t max_tokens_per_forward) {
  const BaselineRun reference(model, inputs, targets, score_from, pair.baseline, max_tokens_per_forward,
                              "trace_layer_sensitivity");
  const int64_t layers = model.config().num_layers;
  SensitivityTrace t;
  t.pair = pair;
  t.all = measure(reference, {pair.candidate, {}}, "all layers", -1);
  for (int64_t i = 0; i < layers; ++i) {
    t.only.push_back(measure(reference, {pair.baseline, {{i, pair.candidate}}}, fmt::format("only layer {}", i), i));
    t.all_but.push_back(measure(reference, {pair.candidate, {{i, pair.baseline}}}, fmt::format("all but layer {}", i), i));
  }
  t.guilty = guilty_by_rule(t.only, t.all_but, t.all.kld_mean);
  if (trace_heads) {
    const int64_t heads = model.config().num_heads;
    for (int64_t layer : t.guilty) {
      HeadTrace h;
      h.layer = layer;
      for (int64_t i = 0; i < heads; ++i) {
        model::AttentionSelection only{pair.baseline, {}, {{layer, {{i, pair.candidate}}}}};
        model::AttentionSelection all_but{pair.baseline, {{layer, pair.candidate}}, {{layer, {{i, pair.baseline}}}}};
        h.only.push_back(measure(reference, only, fmt::format("only head {} of layer {}", i, layer), i));
        h.all_but.push_back(measure(reference, all_but, fmt::format("layer {} but head {}", layer, i), i));
      }
      h.guilty = guilty_by_rule(h.only, h.all_but, t.only[static_cast<size_t>(layer)].kld_mean);
      t.heads.push_back(std::move(h));
    }
  }
  model.set_attention({pair.baseline, {}});
  return t;
}

nlohmann::json SensitivityTrace::to_json() const {
  nlohmann::json j = {{"baseline", pair.baseline}, {"candidate", pair.candidate}, {"all", run_json(all)},
                      {"only", nlohmann::json::array()}, {"all_but", nlohmann::json::array()}, {"guilty_layers", guilty},
                      {"rule", "guilty: keeping the layer on the baseline removes at least half of the all-candidate "
                               "mean KLD; else the layer whose candidate-only run has the largest mean KLD"}};
  for (const SensitivityRun& r : only) j["only"].push_back(run_json(r));
  for (const SensitivityRun& r : all_but) j["all_but"].push_back(run_json(r));
  j["heads"] = nlohmann::json::array();
  for (const HeadTrace& h : heads) {
    nlohmann::json hj = {{"layer", h.layer}, {"guilty_heads", h.guilty}, {"only", nlohmann::json::array()},
                         {"all_but", nlohmann::json::array()}};
    for (const SensitivityRun& r : h.only) hj["only"].push_back(run_json(r));
    for (const SensitivityRun& r : h.all_but) hj["all_but"].push_back(run_json(r));
    j["heads"].push_back(hj);
  }
  return j;
}

std::string SensitivityTrace::table() const {
  std::string out = fmt::format("  {} in ... (rest {}): top-1 agreement, mean KLD, max KLD over {} tokens\n", pair.candidate,
                                pair.baseline, all.tokens);
  auto line = [&](const SensitivityRun& r) {
    const bool named = r.layer >= 0 && std::find(guilty.begin(), guilty.end(), r.layer) != guilty.end();
    out += fmt::format("    {:<24} {:.4f}  {:.3e}  {:.3e}{}\n", r.what, r.same_top1, r.kld_mean, r.kld_max,
                       named ? "  <- guilty layer" : "");
  };
  line(all);
  for (const SensitivityRun& r : only) line(r);
  for (const SensitivityRun& r : all_but) line(r);
  for (const HeadTrace& h : heads) {
    for (const auto* runs : {&h.only, &h.all_but})
      for (const SensitivityRun& r : *runs) {
        const bool named = std::find(h.guilty.begin(), h.guilty.end(), r.layer) != h.guilty.end();
        out += fmt::format("    {:<24} {:.4f}  {:.3e}  {:.3e}{}\n", r.what, r.same_top1, r.kld_mean, r.kld_max,
                           named ? "  <- guilty head" : "");
      }
  }
  return out;
}

}  // namespace sageval::eval
