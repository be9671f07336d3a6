// REPORT.md: verdicts first, then the evidence in the order a reviewer asks for it, then the environment.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "report/json_errors.h"
#include "report/markdown.h"
#include "sageval/report/report.h"

namespace sageval::report {

using nlohmann::json;

namespace {

const std::vector<json>& records_of(const RunData& run, const std::string& suite) {
  static const std::vector<json> none;
  const auto it = run.records.find(suite);
  return it == run.records.end() ? none : it->second;
}

// Why a section has no data: the main job's note for it, or the generic one.
std::string not_run(const RunData& run, const std::string& section) {
  if (run.run_info.is_object())
    for (const json& s : run.run_info.value("skipped", json::array()))
      if (s.value("section", "") == section) return fmt::format("_Not run: {}._\n\n", s.value("reason", "no reason given"));
  return fmt::format("_No records for this section in `{}`._\n\n", run.dir);
}

std::string figure(const RunData& run, const std::string& file, const std::string& caption) {
  const std::string rel = "figures/" + file;
  if (std::find(run.figures.begin(), run.figures.end(), rel) == run.figures.end()) return "";
  return fmt::format("![{}]({})\n\n", caption, rel);
}

// "GPU 1: NVIDIA H200" from a step's or run's {"ordinal", "name", "uuid"}; "" when there is none.
std::string gpu_label(const json& g) {
  if (!g.is_object()) return "";
  return fmt::format("GPU {}: {}", g.value("ordinal", -1), g.value("name", "?"));
}

// The models of the run's GPUs, joined, when they are not all one model; "" otherwise.
std::string gpu_models_differ(const json& info) {
  std::set<std::string> models;
  for (const json& g : info.value("gpus", json::array())) models.insert(g.value("name", "?"));
  if (models.size() < 2) return "";
  std::string out;
  for (const std::string& m : models) out += (out.empty() ? "" : ", ") + m;
  return out;
}

std::string pair_of(const json& r) { return r.value("candidate", "?") + " vs " + r.value("baseline", "?"); }

// With steps spread over several GPUs, the GPU each section's steps ran on (those whose names start with one of
// `steps`), as a line under the section's title: "_Ran on GPU 1: NVIDIA H200 (model suites (GPU sizes))._".
std::string ran_on(const RunData& run, std::initializer_list<const char*> steps) {
  const json& info = run.run_info;
  if (!info.is_object() || info.value("gpus", json::array()).size() < 2) return "";
  std::string where;
  for (const json& s : info.value("suites", json::array())) {
    const std::string name = s.value("name", "");
    for (const char* prefix : steps)
      if (name.rfind(prefix, 0) == 0 && s.contains("gpu")) {
        where += fmt::format("{}{} ({})", where.empty() ? "" : "; ", gpu_label(s.at("gpu")), name);
        break;
      }
  }
  return where.empty() ? "" : "_Ran on " + where + "._\n\n";
}

// A section whose records file had lines that could not be read says so where the reader looks (the list is
// also at the top of the report): "_Incomplete: perplexity.jsonl:7: not a JSON record (...)_".
std::string unreadable_note(const RunData& run, const std::string& file_prefix) {
  std::string out;
  for (const std::string& what : run.unreadable)
    if (what.rfind(file_prefix, 0) == 0) out += fmt::format("_Incomplete: `{}`; the section shows the rest._\n\n", what);
  return out;
}

std::string verdict_section(const RunData& run) {
  MarkdownTable t({"suite", "subject", "gate", "measured", "threshold", "cases", "verdict"});
  for (const VerdictRow& v : verdict_rows(run))
    t.row({v.suite, v.subject, "`" + v.gate + "`", v.measured, v.threshold,
           v.failed ? fmt::format("{} of {} fail", v.failed, v.cases) : std::to_string(v.cases), pass_text(v.pass)});
  std::string out = "## Verdicts\n\n";
  out += t.empty() ? "_No gates were evaluated in this run._\n\n" : t.str() + "\n";
  if (run.run_info.is_object()) {
    const json skipped = run.run_info.value("skipped", json::array());
    if (!skipped.empty()) {
      out += "Skipped in this run:\n\n";
      for (const json& s : skipped) out += fmt::format("- {}: {}\n", s.value("section", "?"), s.value("reason", "?"));
      out += "\n";
    }
  }
  return out;
}

std::string family_of(const std::string& case_name) {
  const size_t us = case_name.rfind('_');
  return us == std::string::npos ? case_name : case_name.substr(us + 1);
}

std::string kernel_accuracy_section(const RunData& run) {
  std::string out = "## Kernel accuracy\n\nEvery case of the attention suites against the float64 `math` reference "
                    "(and, on a GPU, the CUDA kernels against their exact CPU emulation), grouped by input family.\n\n";
  out += ran_on(run, {"kernel accuracy"});
  out += unreadable_note(run, "attention_");
  MarkdownTable t({"suite", "backends", "inputs", "cases", "failed", "unsupported", "max rel L1", "min cosine",
                   "min worst-row cosine"});
  std::map<std::string, std::string> refusals;  // backend -> one of its reasons, shown under the table
  std::map<std::string, std::pair<int, std::string>> errors;  // backend -> cases that raised an error, the first message
  for (const auto& [suite, records] : run.records) {
    if (suite.rfind("attention_", 0) != 0) continue;
    struct Agg {
      int cases = 0, failed = 0, unsupported = 0;
      double rel = 0, cos = 1, row = 1;
    };
    std::map<std::pair<std::string, std::string>, Agg> groups;
    for (const json& r : records) {
      Agg& a = groups[{pair_of(r), family_of(r.at("case").get<std::string>())}];
      if (r.at("figures").contains("unsupported")) {  // a limit the backend declared: counted, not judged
        ++a.unsupported;
        const json& why = r.at("figures").at("unsupported");
        refusals.emplace(r.value("candidate", "?"), why.is_string() ? why.get<std::string>() : why.dump());
        continue;
      }
      ++a.cases;
      a.failed += r.value("pass", true) ? 0 : 1;
      if (r.at("figures").contains("error")) {  // failed without figures: they show as nan, the message below
        auto& [count, first] = errors[r.value("candidate", "?")];
        if (count++ == 0) first = r.at("figures").at("error").dump();
      }
      // A NaN figure (a broken case) must show, not vanish in max/min.
      auto worst = [](double current, double x, bool larger_worse) -> double {
        if (std::isnan(current) || std::isnan(x)) return std::nan("");
        return larger_worse ? std::max(current, x) : std::min(current, x);
      };
      a.rel = worst(a.rel, number_or_nan(r.at("figures"), "rel_l1"), true);
      a.cos = worst(a.cos, number_or_nan(r.at("figures"), "cosine"), false);
      a.row = worst(a.row, number_or_nan(r.at("figures"), "worst_row_cosine"), false);
    }
    for (const auto& [key, a] : groups)
      t.row({suite, key.first, key.second, std::to_string(a.cases), std::to_string(a.failed), std::to_string(a.unsupported),
             a.cases ? fmt::format("{:.4g}", a.rel) : "-", a.cases ? fmt::format("{:.6f}", a.cos) : "-",
             a.cases ? fmt::format("{:.4f}", a.row) : "-"});
  }
  if (t.empty()) return out + not_run(run, "kernel accuracy");
  out += t.str() + "\n";
  for (const auto& [backend, e] : errors)
    out += fmt::format("`{}` raised an error in {} case(s) (counted as failed, figures nan), e.g. {}\n\n", backend, e.first,
                       e.second);
  for (const auto& [backend, why] : refusals)
    out += fmt::format("`unsupported`: cases `{}` declares it does not compute (not judged), e.g. {}\n\n", backend, why);
  return out;
}

// The quantization's passes, each timed alone (the benchmark's "quantization_passes", in the order the quantization
// runs them): GB/s of the pass's own minimum bytes and the fraction of the device-to-device copy measured in the
// same run, then the whole quantization over its minimum bytes. Empty where the benchmark predates the list (the
// run in docs/reports/h200, cf80582, has the pass variants without it; its REPORT.md was rendered then).
std::string quantization_passes_table(const json& kb) {
  std::vector<std::pair<std::string, std::string>> columns;  // variant, label
  for (const json& p : kb.value("quantization_passes", json::array()))
    if (p.is_object()) columns.emplace_back(p.value("variant", "?"), "`" + p.value("name", "?") + "` GB/s (of copy)");
  if (columns.empty()) return "";
  columns.emplace_back("sage_int8_quant_only", "all passes GB/s (of copy)");
  std::vector<std::string> header = {"D", "N", "causal"};
  for (const auto& [variant, label] : columns) header.push_back(label);
  MarkdownTable t(header);
  for (const json& s : kb.value("shapes", json::array())) {
    const json& v = s.value("variants", json::object());
    std::vector<std::string> row = {num(s.at("head_dim"), "{:.0f}"), num(s.at("seq"), "{:.0f}"),
                                    s.at("causal").get<bool>() ? "yes" : "no"};
    for (const auto& [variant, label] : columns) {
      const json& x = v.value(variant, json::object());
      row.push_back(x.value("status", "") != "ok" ? x.value("status", "-")
                                                   : fmt::format("{} ({})", field(x, "gb_per_s_median", "{:.0f}"),
                                                                 field(x, "fraction_of_copy_median", "{:.2f}")));
    }
    t.row(row);
  }
  if (t.empty()) return "";
  const json& copy = kb.value("copy_bandwidth", json::object());
  return fmt::format("Quantization passes, each timed alone: GB/s of the bytes the pass must move (2-byte inputs read "
                     "once, INT8 written) and the fraction of the device-to-device copy in the same run ({} GB/s); "
                     "`all passes` is the whole quantization over its minimum bytes (K is read twice, by the mean and "
                     "by the INT8 pass, so it cannot reach the copy's rate).\n\n",
                     field(copy, "gb_per_s_median", "{:.0f}")) +
         t.str() + "\n";
}

std::string kernel_speed_section(const RunData& run) {
  std::string out = "## Kernel speed\n\n" + ran_on(run, {"kernel speed"});
  const json& kb = run.kernel_bench;
  if (!kb.is_object()) return out + not_run(run, "kernel speed");
  const json& dev = kb.value("device", json::object());
  out += fmt::format("Device: {} (compute capability {}), libtorch {}, sage_int8 kernel path `{}`. TOPS = 4·B·H·N²·D / time "
                     "(halved for causal), median of {} runs after {} warm-ups; B·N = 32768, H·D = 2048; baselines are "
                     "libtorch's SDPA backends timed in the same run. `int8+quant` is what a user gets: quantization plus "
                     "attention; `int8 sm80` is the mma.sync path forced on the same device.\n\n",
                     dev.value("name", "?"), dev.value("compute_capability", "?"), kb.value("libtorch", "?"),
                     kb.value("sage_int8_path", "?"), kb.at("method").value("iters", 0), kb.at("method").value("warmup", 0));
  // Other backends timed in the same run (--backends: e.g. an external library through a py: backend), end to end.
  std::vector<std::string> others;
  for (const json& b : kb.value("backends", json::array())) {
    others.push_back(b.value("name", "?"));
    out += fmt::format("`{}`: {}, timed end to end through the backend interface (its own quantization and call "
                       "included).\n\n", others.back(), b.value("description", "?"));
  }
  std::vector<std::string> header = {"D", "N", "causal", "int8 kernel", "int8+quant", "int8 sm80", "fp16 kernel", "SDPA flash",
                                     "SDPA cuDNN"};
  for (const std::string& b : others) header.push_back("`" + b + "`");
  for (const char* h : {"int8+quant / flash", "int8+quant / cuDNN"}) header.push_back(h);
  for (const std::string& b : others) header.push_back("`" + b + "` / cuDNN");
  header.push_back("quant GB/s");
  MarkdownTable t(header);
  auto tops = [](const json& s, const std::string& v) {
    const json& x = s.at("variants").value(v, json::object());
    return x.value("status", "") == "ok" ? fmt::format("{:.0f}", x.at("tops_median").get<double>()) : x.value("status", "-");
  };
  for (const json& s : kb.value("shapes", json::array())) {
    const json& q = s.at("variants").value("sage_int8_quant_only", json::object());
    std::vector<std::string> row = {num(s.at("head_dim"), "{:.0f}"), num(s.at("seq"), "{:.0f}"),
                                    s.at("causal").get<bool>() ? "yes" : "no", tops(s, "sage_int8_kernel"),
                                    tops(s, "sage_int8_with_quant"), tops(s, "sage_int8_kernel_sm80"), tops(s, "fp16_kernel"),
                                    tops(s, "sdpa_flash"), tops(s, "sdpa_cudnn")};
    for (const std::string& b : others) row.push_back(tops(s, "backend:" + b));
    row.push_back(field(s.at("ratios"), "with_quant/flash", "{:.2f}"));
    row.push_back(field(s.at("ratios"), "with_quant/cudnn", "{:.2f}"));
    for (const std::string& b : others) row.push_back(field(s.at("ratios"), (b + "/cudnn").c_str(), "{:.2f}"));
    row.push_back(field(q, "gb_per_s_median", "{:.0f}"));
    t.row(row);
  }
  out += t.str() + "\n" + quantization_passes_table(kb);
  return out + figure(run, "kernel_tops.png", "kernel TOPS against N");
}

std::string perplexity_section(const RunData& run) {
  std::string out = "## Perplexity\n\n";
  const auto& recs = records_of(run, "perplexity");
  out += ran_on(run, {"model suites"});
  out += unreadable_note(run, "perplexity.jsonl");
  if (recs.empty()) return out + not_run(run, "perplexity");
  std::set<std::string> protocols;
  MarkdownTable t({"data set", "protocol", "backends", "tokens", "ppl base", "ppl cand", "ppl ratio ± unc", "bits/byte base",
                   "bits/byte cand", "word ppl base", "word ppl cand", "mean KLD", "same top-1", "verdict"});
  for (const json& r : recs) {
    const json& f = r.at("figures");
    protocols.insert(f.value("protocol", "?"));
    t.row({f.value("dataset", "?"), f.value("sliding", false) ? fmt::format("sliding {}/{}", num(f.at("context"), "{:.0f}"), num(f.at("stride"), "{:.0f}"))
                                                             : fmt::format("disjoint {}", field(f, "context", "{:.0f}")),
           pair_of(r), field(f, "n", "{:.0f}"), field(f, "ppl_base", "{:.5f}"), field(f, "ppl_cand", "{:.5f}"),
           fmt::format("{} ± {}", field(f, "ppl_ratio", "{:.5f}"), field(f, "ppl_ratio_unc", "{:.5f}")),
           field(f, "bits_per_byte_base", "{:.5f}"), field(f, "bits_per_byte_cand", "{:.5f}"),
           field(f, "word_perplexity_base", "{:.3f}"), field(f, "word_perplexity_cand", "{:.3f}"),
           field(f, "kld_mean", "{:.3e}"), field(f, "same_top1", "{:.4f}"), pass_text(r.value("pass", false))});
  }
  out += "Protocols:\n\n";
  for (const std::string& p : protocols) out += "- " + p + "\n";
  out += "\nIn a row `A vs B`, `cand` is A and `base` is B (the reference). Statistics as llama.cpp's KL-divergence "
         "mode defines them; the ratio's uncertainty accounts for the correlation of the two runs.\n\n";
  return out + t.str() + "\n";
}

std::string logits_section(const RunData& run) {
  std::string out = "## Logits difference\n\n";
  const auto& recs = records_of(run, "logits_diff");
  out += ran_on(run, {"model suites"});
  out += unreadable_note(run, "logits_diff.jsonl");
  if (recs.empty()) return out + not_run(run, "logits difference");
  MarkdownTable t({"case", "backends", "prompts × tokens", "max abs", "MSE", "cosine", "mean KLD", "KLD p99", "same top-1", "verdict"});
  for (const json& r : recs) {
    const json& f = r.at("figures");
    t.row({r.at("case").get<std::string>(), pair_of(r), fmt::format("{} × {}", field(f, "prompts", "{:.0f}"), field(f, "prompt_tokens", "{:.0f}")),
           field(f, "logits_max_abs", "{:.3e}"), field(f, "logits_mse", "{:.3e}"), field(f, "logits_cosine", "{:.7f}"),
           field(f, "kld_mean", "{:.3e}"), field(f, "kld_p99", "{:.3e}"), field(f, "same_top1", "{:.4f}"), pass_text(r.value("pass", false))});
  }
  return out + t.str() + "\n";
}

// The three tokens where the pair disagrees most, "window:position KLD", so a reader can rerun them.
std::string worst_tokens(const json& figures) {
  std::string out;
  const json worst = figures.value("worst_tokens", json::array());
  for (size_t i = 0; i < worst.size() && i < 3; ++i)
    out += fmt::format("{}{}:{} {}", i ? ", " : "", num(worst[i].at("window"), "{:.0f}"), num(worst[i].at("position"), "{:.0f}"),
                       num(worst[i].at("kld"), "{:.3g}"));
  return out.empty() ? "-" : out;
}

// The sensitivity trace of a context-length record (eval/sensitivity.h): which layers' candidate attention moves
// the worst window.
std::string sensitivity_table(const json& length, const json& trace) {
  std::string out = fmt::format("Sensitivity of the worst window at L = {} (window {}): `{}` in the layers named, `{}` in "
                                "the rest; top-1 agreement and KLD against all-`{}`. Guilty layers: {} ({}).\n\n",
                                num(length, "{:.0f}"), num(trace.value("window", json()), "{:.0f}"),
                                trace.value("candidate", "?"), trace.value("baseline", "?"), trace.value("baseline", "?"),
                                trace.value("guilty_layers", json::array()).dump(), trace.value("rule", ""));
  MarkdownTable t({"run", "top-1 agreement", "mean KLD", "max KLD"});
  auto row = [&](const json& run) {
    t.row({run.value("what", "?"), field(run, "same_top1", "{:.4f}"), field(run, "kld_mean", "{:.3e}"),
           field(run, "kld_max", "{:.3g}")});
  };
  row(trace.value("all", json::object()));
  for (const json& run : trace.value("only", json::array())) row(run);
  for (const json& run : trace.value("all_but", json::array())) row(run);
  std::string heads;
  for (const json& h : trace.value("heads", json::array())) {
    heads += fmt::format("{}layer {}: heads {}", heads.empty() ? "" : "; ", num(h.value("layer", json()), "{:.0f}"),
                         h.value("guilty_heads", json::array()).dump());
    for (const json& run : h.value("only", json::array())) row(run);
    for (const json& run : h.value("all_but", json::array())) row(run);
  }
  if (!heads.empty()) out += "Guilty heads (same rule within the layer): " + heads + ".\n\n";
  return out + t.str() + "\n";
}

std::string context_section(const RunData& run) {
  std::string out = "## Context length\n\nPer window length L: BOS + L-1 bytes of WikiText-2 test, the last half of each "
                    "window scored.\n\n";
  const auto& recs = records_of(run, "context_length");
  out += ran_on(run, {"model suites"});
  out += unreadable_note(run, "context_length.jsonl");
  if (recs.empty()) return out + not_run(run, "context length");
  MarkdownTable t({"L", "backends", "windows", "tokens", "NLL base", "NLL cand", "NLL ratio", "top-1 acc base", "top-1 acc cand",
                   "mean KLD", "max KLD", "top-1 agreement ± SE", "per-window agreement min / p10 / median (worst window)",
                   "worst tokens (window:position KLD)", "verdict"});
  std::string traces;
  for (const json& r : recs) {
    const json& f = r.at("figures");
    const double ratio = number_or_nan(f, "nll_cand_mean") / number_or_nan(f, "nll_base_mean");
    const json wa = f.value("window_agreement", json::object());
    const std::string per_window =
        wa.empty() ? "-"
                   : fmt::format("{} / {} / {} ({})", field(wa, "min", "{:.4f}"), field(wa, "p10", "{:.4f}"),
                                 field(wa, "median", "{:.4f}"), field(wa, "worst_window", "{:.0f}"));
    t.row({field(f, "length", "{:.0f}"), pair_of(r), field(f, "windows", "{:.0f}"), field(f, "n", "{:.0f}"),
           field(f, "nll_base_mean", "{:.5f}"), field(f, "nll_cand_mean", "{:.5f}"), fmt::format("{:.5f}", ratio),
           field(f, "top1_accuracy_base", "{:.4f}"), field(f, "top1_accuracy_cand", "{:.4f}"), field(f, "kld_mean", "{:.3e}"),
           field(f, "kld_max", "{:.3g}"), fmt::format("{} ± {}", field(f, "same_top1", "{:.4f}"), field(f, "same_top1_unc", "{:.4f}")),
           per_window, worst_tokens(f), pass_text(r.value("pass", false))});
    if (f.contains("sensitivity")) traces += sensitivity_table(f.at("length"), f.at("sensitivity"));
  }
  return out + t.str() + "\n" + traces + figure(run, "context_length.png", "KLD and top-1 agreement against context length");
}

std::string drift_section(const RunData& run) {
  std::string out = "## Activation drift\n\nPer layer: the attention output (after o_proj) and the hidden state after the "
                    "block, compared between the two backends of each pair.\n\n";
  const auto& recs = records_of(run, "activation_drift");
  out += ran_on(run, {"model suites"});
  out += unreadable_note(run, "activation_drift.jsonl");
  if (recs.empty()) return out + not_run(run, "activation drift");
  for (const json& r : recs) {
    const json& f = r.at("figures");
    out += fmt::format("**{}** ({} tokens), verdict {}\n\n", pair_of(r), field(f, "tokens", "{:.0f}"), pass_text(r.value("pass", false)));
    MarkdownTable t({"layer", "attn cosine", "attn rel L2", "attn max abs", "hidden cosine", "hidden rel L1", "hidden rel L2", "hidden max abs"});
    for (const json& l : f.value("layers", json::array()))
      t.row({field(l, "layer", "{:.0f}"), field(l.at("attention_out"), "cosine", "{:.7f}"), field(l.at("attention_out"), "rel_l2", "{:.3e}"),
             field(l.at("attention_out"), "max_abs", "{:.3e}"), field(l.at("hidden"), "cosine", "{:.7f}"), field(l.at("hidden"), "rel_l1", "{:.3e}"),
             field(l.at("hidden"), "rel_l2", "{:.3e}"), field(l.at("hidden"), "max_abs", "{:.3e}")});
    out += t.str() + "\n";
  }
  return out + figure(run, "activation_drift.png", "relative L2 drift against layer");
}

std::string generation_section(const RunData& run) {
  std::string out = "## Generation\n\nGreedy continuations of prompts from WikiText-2 test (no gate on identity: greedy "
                    "decoding amplifies any difference; every backend must generate, deterministically).\n\n";
  const auto& recs = records_of(run, "generation");
  out += ran_on(run, {"model suites"});
  out += unreadable_note(run, "generation.jsonl");
  if (recs.empty()) return out + not_run(run, "generation");
  MarkdownTable t({"backends", "prompts", "new tokens", "identical", "mean common prefix (tokens)", "first divergence"});
  for (const json& r : recs) {
    const json& f = r.at("figures");
    t.row({pair_of(r), field(f, "prompts", "{:.0f}"), field(f, "max_new_tokens", "{:.0f}"), field(f, "identical_fraction", "{:.3f}"),
           field(f, "mean_common_prefix_tokens", "{:.1f}"), f.contains("first_divergence") ? f.at("first_divergence").dump() : "-"});
  }
  return out + t.str() + "\n";
}

const json* find_entry(const json& section, const std::string& backend, int64_t batch, const char* len_key, int64_t length) {
  for (const json& e : section)
    if (e.value("backend", "") == backend && e.value("batch", int64_t{0}) == batch && e.value(len_key, int64_t{0}) == length) return &e;
  return nullptr;
}

std::vector<std::string> backends_of(const json& section) {
  std::vector<std::string> out;
  for (const json& e : section)
    if (std::find(out.begin(), out.end(), e.value("backend", "")) == out.end()) out.push_back(e.value("backend", ""));
  return out;
}

std::string memory_section(const RunData& run) {
  std::string out = "## Memory\n\n" + ran_on(run, {"memory and leak checks", "model throughput and memory"});
  const json& mb = run.model_bench;
  if (!mb.is_object() || mb.value("memory", json::array()).empty()) return out + not_run(run, "memory");
  out += "Batch 1, the benchmark model in fp16. Peak = the caching allocator's peak above the bytes allocated before the "
         "operation (inputs excluded); device used = cudaMemGetInfo's total - free (all of the process's reserved memory). "
         "The sage_int8 workspace is part of its attention peak, shown on its own.\n\n";
  MarkdownTable t({"backend", "L", "attention peak MiB", "of it: int8 workspace MiB", "attention output MiB", "prefill peak MiB",
                   "decode step peak MiB", "KV cache MiB", "device used during prefill GiB"});
  auto mib = [](const json& v) { return v.is_number() ? fmt::format("{:.2f}", v.get<double>() / (1 << 20)) : std::string("-"); };
  for (const json& e : mb.at("memory")) {
    if (e.value("status", "") != "ok") {
      t.row({e.value("backend", "?"), num(e.at("length"), "{:.0f}"), e.value("status", "?") + ": " + e.value("message", ""), "", "", "", "", "", ""});
      continue;
    }
    t.row({e.at("backend").get<std::string>(), num(e.at("length"), "{:.0f}"), mib(e.at("attention_call").at("peak_bytes")),
           mib(e.at("sage_int8_workspace_bytes")), mib(e.at("attention_call").at("output_bytes")), mib(e.at("prefill").at("peak_bytes")),
           mib(e.at("decode_step").at("peak_bytes")), mib(e.at("kv_cache_bytes")),
           fmt::format("{:.2f}", e.at("prefill").at("device_used_during").get<double>() / (1 << 30))});
  }
  return out + t.str() + "\n";
}

std::string throughput_table(const json& section, const char* len_key, const char* title) {
  const std::vector<std::string> backends = backends_of(section);
  std::set<std::pair<int64_t, int64_t>> configs;
  for (const json& e : section) configs.insert({e.value("batch", int64_t{0}), e.value(len_key, int64_t{0})});
  std::vector<std::string> header = {"batch", len_key};
  for (const auto& b : backends) header.push_back(b + " tok/s");
  const bool ratios = std::count(backends.begin(), backends.end(), "sage_int8") > 0;
  if (ratios)
    for (const auto& b : backends)
      if (b != "sage_int8") header.push_back("sage_int8 / " + b);
  const bool share = std::string(len_key) == "length";
  if (share)
    for (const auto& b : backends) header.push_back(b + " attention share");
  MarkdownTable t(header);
  auto tps = [&](const std::string& b, int64_t batch, int64_t len) {
    const json* e = find_entry(section, b, batch, len_key, len);
    return e && e->value("status", "") == "ok" ? (*e).at("tokens_per_s").get<double>() : NAN;
  };
  for (const auto& [batch, len] : configs) {
    std::vector<std::string> row = {std::to_string(batch), std::to_string(len)};
    for (const auto& b : backends) {
      const json* e = find_entry(section, b, batch, len_key, len);
      if (e && e->value("status", "") == "ok") row.push_back(fmt::format("{:.0f}", (*e).at("tokens_per_s").get<double>()));
      else row.push_back(e ? e->value("status", "-") : "-");
    }
    if (ratios)
      for (const auto& b : backends)
        if (b != "sage_int8") {
          const double r = tps("sage_int8", batch, len) / tps(b, batch, len);
          row.push_back(std::isnan(r) ? "-" : fmt::format("{:.3f}", r));
        }
    if (share)
      for (const auto& b : backends) {
        const json* e = find_entry(section, b, batch, len_key, len);
        row.push_back(e && e->value("status", "") == "ok" ? fmt::format("{:.0f}%", 100 * (*e).at("attention_share").get<double>()) : "-");
      }
    t.row(row);
  }
  return fmt::format("### {}\n\n", title) + t.str() + "\n";
}

// Where a decode step's time goes (sageval_model_bench's decode section): the step, the attention calls alone,
// their share, the bandwidth they reach reading the cache and that as a fraction of the copy in the same run, and
// whether the step ran as a CUDA graph. Older runs without these figures get no table.
std::string decode_split_table(const json& section, const json& copy) {
  MarkdownTable t({"backend", "batch", "context", "step ms", "attention ms", "attention share", "attention GB/s",
                   "of copy", "step run as"});
  for (const json& e : section) {
    if (e.value("status", "") != "ok" || !e.contains("attention_ms")) continue;
    t.row({e.value("backend", "?"), num(e.at("batch"), "{:.0f}"), num(e.at("context"), "{:.0f}"),
           num(e.at("timing").at("median_ms"), "{:.3f}"), num(e.at("attention_ms"), "{:.3f}"),
           num(e.at("attention_share"), "{:.2f}"), num(e.at("attention_gb_per_s"), "{:.0f}"),
           e.contains("attention_fraction_of_copy") ? num(e.at("attention_fraction_of_copy"), "{:.2f}") : "-",
           e.value("decode_mode", "?") == "graph" ? "CUDA graph" : "kernel by kernel (" + e.value("decode_mode_reason", "?") + ")"});
  }
  if (t.empty()) return "";
  return fmt::format("### Decode step: attention and the rest\n\nEach layer's attention call on its own cache of the "
                     "context's length, all layers replayed as one graph (kernel by kernel where the backend takes no "
                     "device-side lengths), against the step; GB/s counts K and V of the filled cache read once per "
                     "layer, against the device-to-device copy measured in the same run ({} GB/s).\n\n",
                     copy.is_object() ? num(copy.value("gb_per_s_median", json(NAN)), "{:.0f}") : std::string("-")) +
         t.str() + "\n";
}

std::string throughput_section(const RunData& run) {
  std::string out = "## Throughput\n\n" + ran_on(run, {"model throughput and memory"});
  const json& mb = run.model_bench;
  if (!mb.is_object()) return out + not_run(run, "throughput");
  const json& m = mb.value("method", json::object());
  out += fmt::format("Model `{}` in fp16 on {}. Median of {} runs after {} warm-ups, CUDA events, {} rotating input sets; every "
                     "backend timed in the same run. Attention share = {}.\n\n",
                     mb.value("model", "?"), mb.at("environment").contains("gpu") ? mb.at("environment").at("gpu").value("name", "?") : "?",
                     m.value("iters", 0), m.value("warmup", 0), m.value("input_sets", 0), m.value("attention_share", "?"));
  out += throughput_table(mb.value("prefill", json::array()), "length", "Prefill");
  out += figure(run, "prefill_throughput.png", "prefill tokens/s against input length");
  out += throughput_table(mb.value("decode", json::array()), "context", "Decode (one token per sequence per step)");
  out += figure(run, "decode_throughput.png", "decode tokens/s against context length");
  out += decode_split_table(mb.value("decode", json::array()), mb.value("copy_bandwidth", json()));
  MarkdownTable t({"backend", "L", "time to first token ms (median)", "min", "max"});
  for (const json& e : mb.value("ttft", json::array()))
    if (e.value("status", "") == "ok")
      t.row({e.at("backend").get<std::string>(), num(e.at("length"), "{:.0f}"), num(e.at("timing").at("median_ms"), "{:.3f}"),
             num(e.at("timing").at("min_ms"), "{:.3f}"), num(e.at("timing").at("max_ms"), "{:.3f}")});
  if (!t.empty()) out += "### Time to first token (batch 1, host clock)\n\n" + t.str() + "\n";
  return out;
}

// The precision plan's speed cost (`sageval validate --precision-plan` on a GPU: model_bench_plan.json): prefill
// tokens/s with the plan against its candidate in every layer and the baseline, timed in one run.
std::string plan_cost_section(const RunData& run) {
  const json& pb = run.plan_bench;
  if (!pb.is_object() || !pb.contains("precision_plan")) return "";
  const json& plan = pb.at("precision_plan");
  const std::string candidate = plan.value("candidate", "?"), baseline = plan.value("baseline", "?");
  std::string label;
  std::map<std::tuple<int64_t, int64_t, std::string>, json> by;  // (batch, length, backend) -> entry
  for (const json& e : pb.value("prefill", json::array())) {
    const std::string backend = e.value("backend", "?");
    if (e.contains("precision_plan")) label = backend;
    by[{e.value("batch", int64_t{0}), e.value("length", int64_t{0}), backend}] = e;
  }
  auto tps = [&](int64_t b, int64_t l, const std::string& backend) {
    const auto it = by.find({b, l, backend});
    if (it == by.end()) return std::nan("");
    return it->second.value("status", "") == "ok" ? it->second.value("tokens_per_s", std::nan("")) : std::nan("");
  };
  auto cell = [](double x, const char* spec) { return std::isnan(x) ? std::string("-") : fmt::format(fmt::runtime(spec), x); };
  MarkdownTable t({"batch", "length", "`" + candidate + "` everywhere tok/s", "with the plan tok/s", "`" + baseline + "` tok/s",
                   "plan / everywhere", "plan / " + baseline});
  std::set<std::pair<int64_t, int64_t>> configs;
  for (const auto& [key, e] : by) configs.insert({std::get<0>(key), std::get<1>(key)});
  for (const auto& [b, l] : configs) {
    const double everywhere = tps(b, l, candidate), with_plan = tps(b, l, label), base = tps(b, l, baseline);
    t.row({std::to_string(b), std::to_string(l), cell(everywhere, "{:.0f}"), cell(with_plan, "{:.0f}"), cell(base, "{:.0f}"),
           cell(with_plan / everywhere, "{:.3f}"), cell(with_plan / base, "{:.3f}")});
  }
  return fmt::format("## Precision plan: speed cost\n\nPrefill of the model with the plan `{}` against `{}` in every layer "
                     "and `{}` in every layer, timed in one run (`sageval_model_bench --prefill-only --precision-plan`).\n\n",
                     label.empty() ? "?" : label, candidate, baseline) +
         ran_on(run, {"precision plan: prefill cost"}) + t.str() + "\n";
}

std::string environment_section(const RunData& run) {
  std::string out = "## Environment\n\n";
  json env = json::object();
  if (run.model_bench.is_object()) env = run.model_bench.value("environment", json::object());
  const json& info = run.run_info.is_object() ? run.run_info : json::object();
  if (env.empty()) env = info.value("environment", json::object());  // run.json of `sageval validate`
  MarkdownTable t({"item", "value"});
  auto add = [&](const std::string& k, const json& v) {
    if (!v.is_null()) t.row({k, v.is_string() ? v.get<std::string>() : v.dump()});
  };
  add("commit", info.value("commit", json()));
  add("date (UTC)", info.value("date", json()));
  add("host", info.value("host", json()));
  add("GPU (nvidia-smi)", info.value("gpu", json()));
  add("clocks at start (nvidia-smi)", info.value("clocks", json()));
  add("driver", info.value("driver", json()));
  add("nvcc", info.value("nvcc", json()));
  if (env.contains("gpu")) {
    const json& g = env.at("gpu");
    add("device (CUDA runtime)", fmt::format("{}, compute capability {}, {} SMs, peak {} MHz SM / {} MHz memory, {} GiB", g.value("name", "?"),
                                             g.value("compute_capability", "?"), g.value("sm_count", 0), g.value("sm_clock_peak_mhz", 0),
                                             g.value("memory_clock_peak_mhz", 0), g.value("global_memory_bytes", int64_t{0}) >> 30));
    add("CUDA runtime / driver API", g.value("cuda_runtime", "?") + " / " + g.value("cuda_driver", "?"));
  }
  add("candidate backend", info.contains("candidate_description")
                               ? json(info.value("candidate", "?") + ": " + info.at("candidate_description").get<std::string>())
                               : json());
  add("sage_int8 kernel path", env.value("sage_int8_path", json()));
  add("libtorch", env.contains("libtorch") ? env.at("libtorch") : info.value("libtorch", json()));
  add("compiler", env.contains("compiler") ? env.at("compiler") : info.value("compiler", json()));
  add("build type", env.value("build_type", json()));
  if (const json gpus = info.value("gpus", json::array()); gpus.size() > 1) {
    std::string used;
    for (const json& g : gpus) used += (used.empty() ? "" : "; ") + gpu_label(g) + " " + g.value("uuid", "");
    add("GPUs (the steps spread over them; each step's GPU below)", used);
  }
  add("report directory", run.dir);
  out += t.str() + "\n";
  const json commands = info.value("commands", json::array());
  if (!commands.empty()) {
    out += "Commands run (in order):\n\n```\n";
    for (const json& c : commands) out += c.get<std::string>() + "\n";
    out += "```\n\n";
  }
  const json suites = info.value("suites", json::array());
  if (!suites.empty()) {
    const bool on_gpus = std::any_of(suites.begin(), suites.end(), [](const json& x) { return x.contains("gpu"); });
    MarkdownTable s(on_gpus ? std::vector<std::string>{"step", "status", "seconds", "GPU", "log"}
                            : std::vector<std::string>{"step", "status", "seconds", "log"});
    for (const json& x : suites) {
      std::vector<std::string> row = {x.value("name", "?"), x.value("status", "?"), num(x.value("seconds", json()), "{:.0f}")};
      if (on_gpus) row.push_back(gpu_label(x.value("gpu", json())));
      row.push_back(x.value("log", ""));
      s.row(row);
    }
    out += s.str() + "\n";
  }
  return out;
}

}  // namespace

namespace {
std::string render_report_unchecked(const RunData& run) {
  const bool pass = run_passes(run);
  const json& info = run.run_info.is_object() ? run.run_info : json::object();
  std::string out = "# sageval validation report\n\n";
  if (const auto plan = plan_verdicts(run)) {
    out += fmt::format("**Verdict with the precision plan `{}`: {}**; with `{}` in every layer: {}. Baseline `{}`{}.\n\n",
                       plan->label, plan->with_plan_passes ? "PASS" : "FAIL", info.value("candidate", "sage_int8"),
                       plan->candidate_everywhere_passes ? "PASS" : "FAIL", info.value("baseline", "fp16"),
                       info.contains("device") ? fmt::format(" on {}", info.at("device").get<std::string>()) : "");
    if (info.contains("precision_plan"))
      out += fmt::format("The plan ({}): `{}`.\n\n", info.at("precision_plan").value("file", "?"),
                         info.at("precision_plan").value("plan", json::object()).dump());
  } else if (!incomplete_reasons(run).empty()) {
    out += fmt::format("**No verdict: the run did not finish** — candidate `{}` against baseline `{}`{}.\n\n",
                       info.value("candidate", "sage_int8"), info.value("baseline", "fp16"),
                       info.contains("device") ? fmt::format(" on {}", info.at("device").get<std::string>()) : "");
  } else {
    out += fmt::format("**Verdict: {}** — candidate `{}` against baseline `{}`{}.\n\n", pass ? "PASS" : "FAIL",
                       info.value("candidate", "sage_int8"), info.value("baseline", "fp16"),
                       info.contains("device") ? fmt::format(" on {}", info.at("device").get<std::string>()) : "");
  }
  if (info.contains("commit"))
    out += fmt::format("Commit `{}`, {} (UTC){}.\n\n", info.value("commit", "?"), info.value("date", "?"),
                       info.value("quick", false) ? ", quick sizes" : "");
  if (const auto reasons = incomplete_reasons(run); !reasons.empty()) {
    out += "**Incomplete run:** it did not finish, so this report shows only what was recorded, and the verdict "
           "cannot pass. Why:\n\n";
    for (const std::string& why : reasons) out += "- " + why + "\n";
    out += "\n";
  }
  if (const std::string differ = gpu_models_differ(info); !differ.empty())
    out += fmt::format("**The steps ran on GPUs of different models** ({}): the speed figures of different sections "
                       "are not comparable with each other; each step's GPU is listed under Environment.\n\n", differ);
  if (!run.unreadable.empty()) {
    out += fmt::format("**Incomplete:** {} record line(s) could not be read (a run cut short, or a damaged file); "
                       "the report shows the rest, and the verdict cannot pass:\n\n", run.unreadable.size());
    for (const std::string& what : run.unreadable) out += "- `" + what + "`\n";
    out += "\n";
  }
  out += verdict_section(run);
  out += plan_cost_section(run);
  out += kernel_accuracy_section(run);
  out += kernel_speed_section(run);
  out += perplexity_section(run);
  out += logits_section(run);
  out += context_section(run);
  out += drift_section(run);
  out += generation_section(run);
  out += memory_section(run);
  out += throughput_section(run);
  out += environment_section(run);
  return out;
}

}  // namespace

std::string render_report(const RunData& run) {
  return with_named_json_errors(run.dir, [&] { return render_report_unchecked(run); });
}

}  // namespace sageval::report
