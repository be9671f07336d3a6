#include "sageval/eval/precision_plan.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sageval/eval/sensitivity.h"
#include "sageval/record.h"

namespace sageval::eval {

model::AttentionSelection PrecisionPlan::selection() const {
  model::AttentionSelection s{candidate, {}};
  for (int64_t layer : baseline_layers) s.layer_backend[layer] = baseline;
  return s;
}

std::string PrecisionPlan::label() const {
  if (baseline_layers.empty()) return fmt::format("{} (plan: no layer on {})", candidate, baseline);
  return fmt::format("{} (layer{} {} on {})", candidate, baseline_layers.size() == 1 ? "" : "s",
                     fmt::join(baseline_layers, ", "), baseline);
}

nlohmann::json PrecisionPlan::to_json() const {
  return {{"candidate", candidate}, {"baseline", baseline}, {"baseline_layers", baseline_layers}, {"found_by", found_by}};
}

PrecisionPlan precision_plan_from_json(const nlohmann::json& j, const std::string& where, int64_t num_layers) {
  auto bad = [&](const std::string& what) { return std::invalid_argument(fmt::format("precision plan {}: {}", where, what)); };
  if (!j.is_object()) throw bad("is not a JSON object");
  for (const auto& [key, value] : j.items())
    if (key != "candidate" && key != "baseline" && key != "baseline_layers" && key != "found_by")
      throw bad(fmt::format("unknown key \"{}\" (expected candidate, baseline, baseline_layers, found_by)", key));
  PrecisionPlan p;
  for (const auto& [key, out] : {std::pair<const char*, std::string*>{"candidate", &p.candidate}, {"baseline", &p.baseline}}) {
    if (!j.contains(key) || !j[key].is_string() || j[key].get<std::string>().empty())
      throw bad(fmt::format("\"{}\" must be a non-empty string (a backend name)", key));
    *out = j[key].get<std::string>();
  }
  if (!j.contains("baseline_layers") || !j["baseline_layers"].is_array())
    throw bad("\"baseline_layers\" must be an array of layer indices");
  std::set<int64_t> seen;
  for (const auto& v : j["baseline_layers"]) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0) throw bad(fmt::format("layer {} is not a non-negative integer", v.dump()));
    const int64_t layer = v.get<int64_t>();
    if (num_layers > 0 && layer >= num_layers)
      throw bad(fmt::format("layer {} does not exist (the model has {} layers)", layer, num_layers));
    if (!seen.insert(layer).second) throw bad(fmt::format("layer {} is listed twice", layer));
  }
  if (num_layers > 0 && static_cast<int64_t>(seen.size()) >= num_layers)
    throw bad(fmt::format("keeps all {} layers on the baseline: nothing of the candidate would be validated", num_layers));
  p.baseline_layers.assign(seen.begin(), seen.end());
  if (j.contains("found_by")) {
    if (!j["found_by"].is_string()) throw bad("\"found_by\" must be a string");
    p.found_by = j["found_by"].get<std::string>();
  }
  return p;
}

PrecisionPlan read_precision_plan(const std::string& path, int64_t num_layers) {
  std::ifstream f(path);
  if (!f) throw std::invalid_argument(fmt::format("precision plan {}: cannot be read", path));
  std::stringstream text;
  text << f.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw std::invalid_argument(fmt::format("precision plan {}: not JSON: {}", path, e.what()));
  }
  return precision_plan_from_json(j, path, num_layers);
}

void write_precision_plan(const PrecisionPlan& plan, const std::string& path) {
  write_file_atomically(path, plan.to_json().dump(2) + "\n");
}

PlanSearch plan_precision(model::LlamaModel& model, const at::Tensor& inputs, const at::Tensor& targets,
                          int64_t score_from, const BackendPair& pair, const PlanGate& gate,
                          int64_t max_tokens_per_forward) {
  const BaselineRun reference(model, inputs, targets, score_from, pair.baseline, max_tokens_per_forward, "plan_precision");
  const int64_t layers = model.config().num_layers;
  PlanSearch out;
  out.plan = {pair.candidate, pair.baseline, {},
              fmt::format("greedy search on {} window(s) of {} tokens (positions from {} scored): each step keeps on {} "
                          "the layer whose move lowers the mean KLD against all-{} most, until the gate passes",
                          inputs.size(0), inputs.size(1), score_from, pair.baseline, pair.baseline)};
  auto step_json = [&](const std::vector<int64_t>& kept, const TokenStatsSummary& s, bool pass) {
    return nlohmann::json{{"baseline_layers", kept}, {"same_top1", json_number(s.same_top1)},
                          {"kld_mean", json_number(s.kld_mean)}, {"pass", pass}};
  };
  TokenStatsSummary current = reference.compare(out.plan.selection());
  out.passes = gate(current);
  out.steps.push_back(step_json(out.plan.baseline_layers, current, out.passes));
  // At most layers - 1 on the baseline: a plan without the candidate would pass trivially and validate nothing.
  while (!out.passes && static_cast<int64_t>(out.plan.baseline_layers.size()) < layers - 1) {
    int64_t best = -1;
    TokenStatsSummary best_summary;
    for (int64_t i = 0; i < layers; ++i) {
      if (std::find(out.plan.baseline_layers.begin(), out.plan.baseline_layers.end(), i) != out.plan.baseline_layers.end())
        continue;
      PrecisionPlan trial = out.plan;
      trial.baseline_layers.push_back(i);
      const TokenStatsSummary s = reference.compare(trial.selection());
      if (best < 0 || s.kld_mean < best_summary.kld_mean) {
        best = i;
        best_summary = s;
      }
    }
    out.plan.baseline_layers.push_back(best);
    std::sort(out.plan.baseline_layers.begin(), out.plan.baseline_layers.end());
    current = best_summary;
    out.passes = gate(current);
    out.steps.push_back(step_json(out.plan.baseline_layers, current, out.passes));
  }
  model.set_attention({pair.baseline, {}});
  return out;
}

}  // namespace sageval::eval
