// ContextLength suite (model-level): windows of each length L (SAGEVAL_SUITE_LENGTHS; CPU 128..1024, GPU
// 128..8192), each BOS + L-1 bytes of WikiText-2 test at disjoint offsets; the last half of each window is
// scored: baseline and candidate NLL, top-1 next-token accuracy of each, KLD and top-1 agreement. Candidate
// against baseline, and baseline against math (the FP16 noise floor). Gates: candidate NLL within 1% of the
// baseline's and top-1 agreement >= 99% allowing two standard errors of sampling noise (data/thresholds.json).
// Windows per length: enough for SAGEVAL_SUITE_TOKENS scored tokens (CPU 2048, GPU 65536). The record carries the
// per-window agreement (min, p10, median, max, the worst window) and, when the candidate fails a gate (or with
// SAGEVAL_SUITE_TRACE=1), the sensitivity trace of its worst window (eval/sensitivity.h): which layers' candidate
// attention moves it.
#include <gtest/gtest.h>


#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "sageval/data/datasets.h"
#include "sageval/eval/context_windows.h"
#include "sageval/eval/sensitivity.h"
#include "sageval/eval/token_stats.h"
#include "sageval/model/llama_model.h"
#include "sageval/model/tokenizer.h"
#include "sageval/record.h"
#include "sageval/thresholds.h"
#include "support/suite_settings.h"

namespace sageval::testing {
namespace {

std::vector<int64_t> suite_lengths() {
  std::vector<int64_t> out;
  const std::string s = suite_setting("SAGEVAL_SUITE_LENGTHS", "128,256,512,1024", "128,256,512,1024,2048,4096,8192");
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t comma = s.find(',', pos);
    out.push_back(std::stoll(s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos)));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

// Logits of the rows of `inputs`, SAGEVAL_SUITE_BATCH_TOKENS (default 65536) tokens per forward pass, so
// that long windows (and math's float64 score blocks) stay within memory.
at::Tensor forward_in_chunks(const model::LlamaModel& model, const at::Tensor& inputs) {
  return eval::forward_in_chunks(model, inputs, env_int_or("SAGEVAL_SUITE_BATCH_TOKENS", 65536));
}

class ContextLength : public ::testing::TestWithParam<bool> {};  // param: baseline against math

TEST_P(ContextLength, TracksReferenceAtEveryLength) {
  SAGEVAL_SUITE_PRECONDITIONS();
  const bool against_math = GetParam();
  const eval::BackendPair pair = suite_pair(against_math);
  const std::string &base = pair.baseline, &cand = pair.candidate;
  auto model = load_suite_model();
  const std::string text = data::read_text_file(data::resolve_dataset("wikitext2-test"));
  auto tokenizer = model::make_tokenizer(model->config(), model->folder());
  const int64_t want_tokens = suite_size("SAGEVAL_SUITE_TOKENS", 2048, 65536);
  std::printf("[ figures  ] context length, %s vs %s\n      L  windows  nll_base  nll_cand  acc_base  acc_cand  kld_mean  agree\n",
              cand.c_str(), base.c_str());
  for (int64_t len : suite_lengths()) {
    const int64_t half = len / 2;
    const int64_t windows = std::max<int64_t>(1, (want_tokens + (len - half) - 1) / (len - half));
    ASSERT_LE(windows * len, static_cast<int64_t>(text.size())) << "not enough text for " << windows << " windows of " << len;
    const eval::ContextWindows cw = eval::context_windows(*tokenizer, text, len, windows);
    const at::Tensor &inputs = cw.inputs, &targets = cw.targets;
    model->set_attention(pair.baseline_selection());
    at::Tensor lb = forward_in_chunks(*model, inputs).slice(1, half);
    model->set_attention(pair.candidate_selection());
    at::Tensor lc = forward_in_chunks(*model, inputs).slice(1, half);
    at::Tensor tg = targets.slice(1, half).to(lb.device());
    eval::TokenComparison cmp;
    const int64_t vocab = lb.size(-1);
    cmp.add(lb.reshape({-1, vocab}), lc.reshape({-1, vocab}), tg.reshape({-1}));
    const eval::TokenStatsSummary s = cmp.summarize();
    const double acc_base = (lb.argmax(-1) == tg).to(at::kDouble).mean().item<double>();
    const double acc_cand = (lc.argmax(-1) == tg).to(at::kDouble).mean().item<double>();
    std::printf("  %5lld  %7lld  %8.5f  %8.5f  %8.4f  %8.4f  %8.2e  %.4f\n", static_cast<long long>(len),
                static_cast<long long>(windows), s.nll_base_mean, s.nll_cand_mean, acc_base, acc_cand, s.kld_mean,
                s.same_top1);
    Record r = suite_record("context_length", fmt::format("L{}_{}", len, against_math ? "BaselineVsMath" : "CandidateVsBaseline"), cand, base, *model, "wikitext2-test");
    r.figures.update(eval::to_json(s));
    r.figures["length"] = len;
    r.figures["against_math"] = against_math;
    r.figures["windows"] = windows;
    r.figures["scored"] = "last half of each window";
    r.figures["top1_accuracy_base"] = acc_base;
    r.figures["top1_accuracy_cand"] = acc_cand;
    // Where the candidate disagrees most: a reviewer (or a kernel developer) reruns exactly these windows.
    std::vector<size_t> order(cmp.kld().size());
    std::iota(order.begin(), order.end(), size_t{0});
    const size_t worst = std::min<size_t>(5, order.size());
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(worst), order.end(),
                      [&](size_t a, size_t b) { return cmp.kld()[a] > cmp.kld()[b]; });
    r.figures["worst_tokens"] = nlohmann::json::array();
    for (size_t i = 0; i < worst; ++i) {
      const int64_t idx = static_cast<int64_t>(order[i]), scored = len - half;
      r.figures["worst_tokens"].push_back({{"window", idx / scored}, {"position", half + idx % scored},
                                           {"text_offset", (idx / scored) * len + half + idx % scored},
                                           {"kld", json_number(cmp.kld()[order[i]])}});
    }
    std::printf("         worst tokens (window, position, KLD):");
    for (const auto& w : r.figures["worst_tokens"])
      std::printf(" (%lld, %lld, %s)", static_cast<long long>(w["window"].get<int64_t>()),
                  static_cast<long long>(w["position"].get<int64_t>()), w["kld"].dump().c_str());
    std::printf("\n");
    r.gates = eval::context_length_gates(s);  // the same gates `sageval plan` searches with
    r.figures["top1_agreement_upper"] = r.gates[1].measured;
    // Agreement per window, so that one diverging window shows as such rather than as a lower total.
    const at::Tensor per_window = (lb.argmax(-1) == lc.argmax(-1)).to(at::kDouble).mean(1).cpu();
    std::vector<double> agree(per_window.data_ptr<double>(), per_window.data_ptr<double>() + windows);
    const int64_t worst_window = std::min_element(agree.begin(), agree.end()) - agree.begin();
    std::vector<double> sorted = agree;
    std::sort(sorted.begin(), sorted.end());
    r.figures["window_agreement"] = {{"min", sorted.front()},
                                     {"p10", eval::percentile_sorted(sorted, 0.10)},
                                     {"median", eval::percentile_sorted(sorted, 0.5)},
                                     {"max", sorted.back()},
                                     {"worst_window", worst_window},
                                     {"worst_window_text_offset", worst_window * len}};
    std::printf("         per-window agreement: min %.4f (window %lld), p10 %.4f, median %.4f, max %.4f\n",
                sorted.front(), static_cast<long long>(worst_window), eval::percentile_sorted(sorted, 0.10),
                eval::percentile_sorted(sorted, 0.5), sorted.back());
    // A failing candidate (or SAGEVAL_SUITE_TRACE=1): which layers' candidate attention moves the worst window.
    const bool failing = std::any_of(r.gates.begin(), r.gates.end(), [](const Gate& g) { return !g.pass; });
    // (Not under a precision plan: the trace starts from the candidate in every layer.)
    if (!against_math && pair.candidate_layer_backend.empty() && (failing || env_int_or("SAGEVAL_SUITE_TRACE", 0) != 0)) {
      const eval::SensitivityTrace trace = eval::trace_layer_sensitivity(
          *model, inputs.slice(0, worst_window, worst_window + 1), targets.slice(0, worst_window, worst_window + 1),
          half, pair, /*trace_heads=*/true, env_int_or("SAGEVAL_SUITE_BATCH_TOKENS", 65536));
      r.figures["sensitivity"] = trace.to_json();
      r.figures["sensitivity"]["window"] = worst_window;
      std::printf("         sensitivity of window %lld:\n%s", static_cast<long long>(worst_window), trace.table().c_str());
    }
    append_record(r);
    expect_gates(r, fmt::format("L={}: NLL {} vs {}, top-1 agreement {} +- {}", len, s.nll_cand_mean, s.nll_base_mean,
                                s.same_top1, s.same_top1_unc),
                 rerun_hint("ContextLength"));
  }
}

INSTANTIATE_TEST_SUITE_P(Suite, ContextLength, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "BaselineVsMath" : "CandidateVsBaseline");
                         });

}  // namespace
}  // namespace sageval::testing
