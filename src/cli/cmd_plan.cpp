// `sageval plan`: a precision plan for a model (eval/precision_plan.h), found on the context-length suite's data
// and judged by its gates (data/thresholds.json): the fewest layers kept on the baseline, by greedy search, for the
// candidate to pass. Writes the plan file a user hands to `sageval validate --precision-plan FILE` or an engine.
#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "sageval/app/options.h"
#include "sageval/data/datasets.h"
#include "sageval/eval/context_windows.h"
#include "sageval/eval/precision_plan.h"
#include "sageval/model/llama_model.h"
#include "sageval/model/tokenizer.h"

namespace sageval::cli {
namespace {

struct PlanOptions {
  std::string model, candidate = "sage_int8", baseline, device, dataset = "wikitext2-test", out;
  int64_t length = 1024, windows = 16;
};

int run_plan(const PlanOptions& o) {
  std::string baseline = o.baseline;
  if (baseline.empty()) baseline = std::getenv("SAGEVAL_BASELINE") ? std::getenv("SAGEVAL_BASELINE") : "fp16";
  if (!has_backend(baseline)) throw std::invalid_argument(fmt::format("--baseline '{}' is not an attention backend", baseline));
  model::LoadOptions load;
  load.device = at::Device(o.device.empty() ? (at::hasCUDA() ? "cuda" : "cpu") : o.device);
  auto m = model::LlamaModel::load(o.model.empty() ? model::default_model_dir() : o.model, load);
  auto tokenizer = model::make_tokenizer(m->config(), m->folder());
  const std::string text = data::read_text_file(data::resolve_dataset(o.dataset));
  const eval::ContextWindows w = eval::context_windows(*tokenizer, text, o.length, o.windows);

  // The context-length suite's gates (eval/context_windows.h), on these windows.
  const eval::PlanGate gate = [](const eval::TokenStatsSummary& s) {
    const std::vector<Gate> gates = eval::context_length_gates(s);
    return std::all_of(gates.begin(), gates.end(), [](const Gate& g) { return g.pass; });
  };
  fmt::print("plan: {} against {} on {} windows of {} bytes of {} ({}), gated as the context-length suite "
             "(data/thresholds.json, /model/context_length)\n",
             o.candidate, baseline, o.windows, o.length, o.dataset, m->device().str());
  const eval::PlanSearch search = eval::plan_precision(*m, w.inputs, w.targets, w.score_from, {baseline, o.candidate, {}}, gate);
  for (const auto& step : search.steps)
    fmt::print("  layers on {:<6} {:<12} top-1 agreement {:.4f}  mean KLD {:.3e}  {}\n", baseline,
               fmt::format("{}", step["baseline_layers"].get<std::vector<int64_t>>()), step["same_top1"].get<double>(),
               step["kld_mean"].get<double>(), step["pass"].get<bool>() ? "passes" : "fails");
  eval::PrecisionPlan plan = search.plan;
  plan.found_by = fmt::format("sageval plan: {} on {} windows of {} bytes of {}", plan.found_by, o.windows, o.length, o.dataset);
  eval::write_precision_plan(plan, o.out);
  fmt::print("plan: {} -> {}\n", plan.label(), o.out);
  return search.passes ? 0 : app::kExitFail;
}

}  // namespace

void add_plan_command(CLI::App& app, Run& run) {
  auto o = std::make_shared<PlanOptions>();
  CLI::App* sub = app.add_subcommand(
      "plan", "a precision plan: the fewest layers kept on the baseline for the candidate to pass the context-length "
              "gates, by greedy search with the sensitivity trace; exits 0 when the plan passes, 1 when none does");
  sub->add_option("--model", o->model, "model folder (default: the bundled sageval-byte-llama)")->check(CLI::ExistingDirectory);
  app::add_backend_option(*sub, o->candidate, "the candidate");
  sub->add_option("--baseline", o->baseline, "the backend kept in the plan's layers (default: $SAGEVAL_BASELINE or fp16)");
  sub->add_option("--device", o->device, "cpu, cuda or cuda:N (default: cuda when there is one)");
  sub->add_option("--dataset", o->dataset, "a registered data set (data/datasets.tsv)")->capture_default_str();
  sub->add_option("--length", o->length, "window length in bytes; the last half is scored")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 20))
      ->capture_default_str();
  sub->add_option("--windows", o->windows, "disjoint windows from the start of the data set")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  sub->add_option("--out", o->out, "the plan file to write")->required();
  sub->callback([o, &run] { run = [o] { return run_plan(*o); }; });
}

}  // namespace sageval::cli
