#include "sageval/eval/sensitivity.h"

#include <algorithm>
#include <vector>
#include <stdexcept>

#include <fmt/format.h>

#include "sageval/eval/token_stats.h"
#include "sageval/record.h"

namespace sageval::eval {
namespace {

SensitivityRun measure(model::LlamaModel& model, const model::AttentionSelection& selection, const at::Tensor& inputs,
                       const at::Tensor& base_logits, const at::Tensor& targets, int64_t score_from, std::string what,
                       int64_t layer, int64_t max_tokens) {
  const TokenStatsSummary s = compare_selection(model, selection, inputs, base_logits, targets, score_from, max_tokens);
  return {std::move(what), layer, s.n, s.same_top1, s.kld_mean, s.kld_max};
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

TokenStatsSummary compare_selection(model::LlamaModel& model, const model::AttentionSelection& selection,
                                    const at::Tensor& inputs, const at::Tensor& base, const at::Tensor& scored_targets,
                                    int64_t score_from, int64_t max_tokens_per_forward) {
  model.set_attention(selection);
  const at::Tensor cand = forward_in_chunks(model, inputs, max_tokens_per_forward).slice(1, score_from);
  const int64_t vocab = cand.size(-1);
  TokenComparison cmp;
  cmp.add(base.reshape({-1, vocab}), cand.reshape({-1, vocab}), scored_targets.reshape({-1}));
  return cmp.summarize();
}

SensitivityTrace trace_layer_sensitivity(model::LlamaModel& model, const at::Tensor& inputs, const at::Tensor& targets,
                                         int64_t score_from, const BackendPair& pair, bool trace_heads,
                                         int64_t max_tokens_per_forward) {
  if (inputs.dim() != 2 || !inputs.sizes().equals(targets.sizes()))
    throw std::invalid_argument("trace_layer_sensitivity: inputs and targets must both be [windows, T]");
  if (score_from < 0 || score_from >= inputs.size(1))
    throw std::invalid_argument(fmt::format("trace_layer_sensitivity: score_from {} outside [0, {})", score_from,
                                            inputs.size(1)));
  const int64_t layers = model.config().num_layers;
  SensitivityTrace t;
  t.pair = pair;
  model.set_attention({pair.baseline, {}});
  const at::Tensor base = forward_in_chunks(model, inputs, max_tokens_per_forward).slice(1, score_from);
  const at::Tensor scored = targets.slice(1, score_from).to(base.device());
  const int64_t mt = max_tokens_per_forward;
  t.all = measure(model, {pair.candidate, {}}, inputs, base, scored, score_from, "all layers", -1, mt);
  for (int64_t i = 0; i < layers; ++i) {
    t.only.push_back(measure(model, {pair.baseline, {{i, pair.candidate}}}, inputs, base, scored, score_from,
                             fmt::format("only layer {}", i), i, mt));
    t.all_but.push_back(measure(model, {pair.candidate, {{i, pair.baseline}}}, inputs, base, scored, score_from,
                                fmt::format("all but layer {}", i), i, mt));
  }
  model.set_attention({pair.baseline, {}});
  for (int64_t i = 0; i < layers; ++i)
    if (t.all_but[static_cast<size_t>(i)].kld_mean <= 0.5 * t.all.kld_mean && t.all.kld_mean > 0.0) t.guilty.push_back(i);
  if (t.guilty.empty() && layers > 0) {
    const auto worst = std::max_element(t.only.begin(), t.only.end(), [](const SensitivityRun& a, const SensitivityRun& b) {
      return a.kld_mean < b.kld_mean;
    });
    t.guilty.push_back(worst->layer);
  }
  if (trace_heads) {
    const int64_t heads = model.config().num_heads;
    for (int64_t layer : t.guilty) {
      HeadTrace h;
      h.layer = layer;
      for (int64_t i = 0; i < heads; ++i) {
        model::AttentionSelection only{pair.baseline, {}, {{layer, {{i, pair.candidate}}}}};
        model::AttentionSelection all_but{pair.baseline, {{layer, pair.candidate}}, {{layer, {{i, pair.baseline}}}}};
        h.only.push_back(measure(model, only, inputs, base, scored, score_from,
                                 fmt::format("only head {} of layer {}", i, layer), i, mt));
        h.all_but.push_back(measure(model, all_but, inputs, base, scored, score_from,
                                    fmt::format("layer {} but head {}", layer, i), i, mt));
      }
      const double layer_kld = t.only[static_cast<size_t>(layer)].kld_mean;
      for (int64_t i = 0; i < heads; ++i)
        if (layer_kld > 0.0 && h.all_but[static_cast<size_t>(i)].kld_mean <= 0.5 * layer_kld) h.guilty.push_back(i);
      if (h.guilty.empty() && heads > 0)
        h.guilty.push_back(std::max_element(h.only.begin(), h.only.end(), [](const SensitivityRun& a, const SensitivityRun& b) {
                             return a.kld_mean < b.kld_mean;
                           })->layer);
      t.heads.push_back(std::move(h));
    }
    model.set_attention({pair.baseline, {}});
  }
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
