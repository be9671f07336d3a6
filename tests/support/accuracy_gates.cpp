#include "support/accuracy_gates.h"

#include <fmt/format.h>

#include "sageval/thresholds.h"

namespace sageval::testing {
namespace {

Gate at_least(const std::string& what, double measured, double threshold) {
  return {fmt::format("{} >= {}", what, threshold), measured, threshold, measured >= threshold};
}
Gate at_most(const std::string& what, double measured, double threshold) {
  return {fmt::format("{} <= {}", what, threshold), measured, threshold, measured <= threshold};
}
Gate finite(const ErrorStats& s) {
  const double bad = static_cast<double>(s.nan_count + s.inf_count);
  return {"NaN + Inf count == 0", bad, 0.0, bad == 0.0};
}

double dtype_eps(at::ScalarType t) { return t == at::kBFloat16 ? 0.0078125 : 0.0009765625; }

}  // namespace

bool AccuracyVerdict::pass() const {
  for (const Gate& g : gates)
    if (!g.pass) return false;
  return true;
}

std::string AccuracyVerdict::failure_message(const std::string& case_filter) const {
  std::string msg;
  for (const Gate& g : gates)
    if (!g.pass) msg += fmt::format("  FAILED gate {}: measured {:.6g} (threshold {:.6g})\n", g.name, g.measured, g.threshold);
  msg += fmt::format("  figures: {}\n  thresholds: {}\n  rerun: ctest -R '{}' --output-on-failure\n",
                     format_error_stats(stats), Thresholds::defaults().path(), case_filter);
  return msg;
}

AccuracyVerdict judge_sage_int8(const AttentionCase& c, const at::Tensor& out, const at::Tensor& ref) {
  AccuracyVerdict v;
  v.stats = compare_tensors(out, ref);
  const std::string key = fmt::format("/attention/sage_int8/{}", to_string(c.family));
  const Thresholds& t = Thresholds::defaults();
  v.gates.push_back(finite(v.stats));
  if (auto x = t.find_number(key + "/min_cosine")) v.gates.push_back(at_least(key + "/min_cosine: cosine", v.stats.cosine, *x));
  if (auto x = t.find_number(key + "/max_rel_l1")) v.gates.push_back(at_most(key + "/max_rel_l1: rel_l1", v.stats.rel_l1, *x));
  return v;
}

AccuracyVerdict judge_fp16(const AttentionCase& c, const at::Tensor& out, const at::Tensor& ref,
                           const at::Tensor& plain) {
  AccuracyVerdict v;
  v.stats = compare_tensors(out, ref);
  const ErrorStats plain_stats = compare_tensors(plain, ref);
  const Thresholds& t = Thresholds::defaults();
  const double ratio = t.number("/attention/fp16/max_error_ratio");
  const double floor_eps = t.number("/attention/fp16/abs_floor_eps");
  const double ref_max = ref.abs().max().item<double>();
  const double bound = ratio * plain_stats.max_abs + floor_eps * dtype_eps(c.dtype) * ref_max;
  v.gates.push_back(finite(v.stats));
  v.gates.push_back(at_most("max_abs error <= max_error_ratio * plain 16-bit max_abs + abs_floor_eps * eps * max|ref|",
                            v.stats.max_abs, bound));
  return v;
}

AccuracyVerdict judge_against_emulation(const at::Tensor& out, const at::Tensor& emulated) {
  AccuracyVerdict v;
  v.stats = compare_tensors(out, emulated);
  const Thresholds& t = Thresholds::defaults();
  v.gates.push_back(finite(v.stats));
  v.gates.push_back(at_least("/attention/sage_int8_vs_emulation/min_cosine: cosine", v.stats.cosine,
                             t.number("/attention/sage_int8_vs_emulation/min_cosine")));
  v.gates.push_back(at_most("/attention/sage_int8_vs_emulation/max_rel_l1: rel_l1", v.stats.rel_l1,
                            t.number("/attention/sage_int8_vs_emulation/max_rel_l1")));
  return v;
}

void record_verdict(const std::string& suite, const std::string& case_name, const std::string& candidate,
                    const std::string& baseline, const std::string& device, const AccuracyVerdict& verdict) {
  Record r;
  r.suite = suite;
  r.case_name = case_name;
  r.candidate = candidate;
  r.baseline = baseline;
  r.device = device;
  const ErrorStats& s = verdict.stats;
  r.figures = {{"cosine", json_number(s.cosine)},
               {"rel_l1", json_number(s.rel_l1)},
               {"rmse", json_number(s.rmse)},
               {"nmse", json_number(s.nmse)},
               {"max_abs", json_number(s.max_abs)},
               {"nan", s.nan_count},
               {"inf", s.inf_count},
               {"worst_head_cosine", json_number(s.worst_head_cosine)},
               {"worst_head_rel_l1", json_number(s.worst_head_rel_l1)},
               {"worst_row_cosine", json_number(s.worst_row_cosine)},
               {"worst_row_rel_l1", json_number(s.worst_row_rel_l1)}};
  r.gates = verdict.gates;
  append_record(r);
}

at::Tensor as_hnd(const at::Tensor& out, Layout layout) {
  return layout == Layout::NHD ? out.transpose(1, 2) : out;
}

}  // namespace sageval::testing
