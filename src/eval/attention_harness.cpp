#include "sageval/eval/attention_harness.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "sageval/attention.h"
#include "sageval/emulation.h"
#include "sageval/thresholds.h"

namespace sageval::eval {
namespace {

// Fills the caching allocator's free memory with NaN, so that the output and workspace, carved from these
// freed blocks next, hold NaN wherever the kernel does not write.
void poison_free_device_memory(const AttentionCase& c) {
  const AttentionShape s = c.shape();
  const int64_t bytes = 2 * s.batch * s.heads_q * s.len_q * s.head_dim * 4 + (int64_t{16} << 20);
  at::Tensor poison = at::full({bytes / 4}, std::numeric_limits<float>::quiet_NaN(),
                               at::TensorOptions().dtype(at::kFloat).device(at::kCUDA));
  poison.reset();
}

// The backend's CPU path is its exact emulation (src/backends/kernel_backends.cpp), with the same choices (decode
// calls of sage_int8 in FP16) as its CUDA path.
AttentionOutput emulate(const std::string& backend, const AttentionInputs& in, const AttentionCase& c) {
  AttentionOptions options = c.options();
  options.return_lse = true;
  return make_backend(backend)->forward(in.q.cpu(), in.k.cpu(), in.v.cpu(), options);
}

}  // namespace

bool CaseResult::pass() const {
  return std::all_of(gates.begin(), gates.end(), [](const Gate& g) { return g.pass; });
}

std::string CaseResult::failure_message() const {
  std::string msg;
  for (const Gate& g : gates)
    if (!g.pass) msg += "  " + g.describe() + "\n";
  msg += fmt::format("  {} vs {} on {}: {} lse_max_abs={:.3e}\n  thresholds: {}\n  rerun: ctest -R '{}' --output-on-failure\n",
                     backend, reference, device, format_error_stats(stats), lse_max_abs,
                     Thresholds::defaults().path(), case_name);
  return msg;
}

Record CaseResult::to_record(const std::string& suite) const {
  Record r;
  r.suite = suite;
  r.case_name = case_name;
  r.candidate = backend;
  r.baseline = reference;
  r.device = device;
  const ErrorStats& s = stats;
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
               {"worst_row_rel_l1", json_number(s.worst_row_rel_l1)},
               {"lse_max_abs", json_number(lse_max_abs)},
               {"input_copies", input_copies}};
  r.gates = gates;
  return r;
}

double lse_max_abs_error(const at::Tensor& lse, const at::Tensor& ref_lse) {
  at::Tensor a = lse.to(at::kDouble).cpu(), b = ref_lse.to(at::kDouble).cpu();  // [B, H, N]: small
  at::Tensor both_inf = at::isinf(a) & at::isinf(b) & (a == b);
  at::Tensor err = at::where(both_inf, at::zeros_like(a), (a - b).abs());
  if (at::isnan(err).any().item<bool>()) return std::numeric_limits<double>::quiet_NaN();
  return err.max().item<double>();
}

at::Tensor as_hnd(const at::Tensor& t, Layout layout) { return layout == Layout::NHD ? t.transpose(1, 2) : t; }

CaseResult judge_attention(const AttentionCase& c, const std::string& backend, Reference reference,
                           const AttentionOutput& out, const AttentionOutput& ref, const at::Tensor& plain16) {
  const Tolerance tol = c.tolerance(backend, reference);
  CaseResult r;
  r.case_name = c.name();
  r.backend = backend;
  r.reference = to_string(reference);
  r.device = out.out.device().is_cuda() ? "cuda" : "cpu";
  r.input_copies = out.input_copies;
  // Compared where both live (the GPU for long cases); on the CPU when the reference is the CPU emulation.
  const at::Device where = out.out.device() == ref.out.device() ? out.out.device() : at::Device(at::kCPU);
  const at::Tensor o = as_hnd(out.out, c.layout).to(where), want = as_hnd(ref.out, c.layout).to(where);
  r.stats = compare_tensors(o, want);
  r.gates.push_back(Gate::at_most("NaN + Inf count", static_cast<double>(r.stats.nan_count + r.stats.inf_count), 0.0));
  if (tol.min_cosine) r.gates.push_back(Gate::at_least(tol.key + "/min_cosine: cosine", r.stats.cosine, *tol.min_cosine));
  if (tol.max_rel_l1) r.gates.push_back(Gate::at_most(tol.key + "/max_rel_l1: rel_l1", r.stats.rel_l1, *tol.max_rel_l1));
  if (tol.plain16_ratio) {
    if (!plain16.defined())
      throw std::invalid_argument("judge_attention: the fp16 bound needs plain 16-bit attention of the same inputs");
    const double plain_err = compare_tensors(plain16.to(where), want).max_abs;
    const double bound = *tol.plain16_ratio * plain_err +
                         tol.abs_floor * want.abs().max().item<double>();
    r.gates.push_back(Gate::at_most(tol.key + ": max_abs error, bound = max_error_ratio * plain 16-bit max_abs + "
                                              "abs_floor_eps * eps * max|ref|",
                                    r.stats.max_abs, bound));
  }
  r.lse_max_abs = std::numeric_limits<double>::quiet_NaN();
  if (tol.max_lse_abs_error) {
    // A backend that should return the LSE and does not fails here with NaN, never passes silently.
    if (out.lse.defined() && ref.lse.defined()) r.lse_max_abs = lse_max_abs_error(out.lse, ref.lse);
    r.gates.push_back(Gate::at_most(tol.key + ": lse max abs error", r.lse_max_abs, *tol.max_lse_abs_error));
  }
  return r;
}

CaseResult run_attention_case(const AttentionCase& c, const std::string& backend, Reference reference,
                              const at::Device& device) {
  const AttentionInputs in = make_attention_inputs(c.shape(), c.family, c.dtype, c.layout, seed_from_name(c.name()), device);
  if (device.is_cuda()) poison_free_device_memory(c);
  const auto candidate = make_backend(backend);
  AttentionOptions options = c.options();
  options.return_lse = candidate->capabilities().lse;  // a backend without it fails an LSE bound, if it has one
  const AttentionOutput out = candidate->forward(in.q, in.k, in.v, options);
  AttentionOutput ref;
  if (reference == Reference::kEmulation) {
    ref = emulate(backend, in, c);
  } else {
    const bool long_on_gpu = device.is_cuda() && c.len_k > 8192;  // float64 there takes minutes a case
    ref = make_backend(long_on_gpu ? "math_fp32" : "math")->forward(in.q, in.k, in.v, c.options());
  }
  at::Tensor plain16;
  if (c.tolerance(backend, candidate->capabilities(), reference).plain16_ratio) {
    const double sm_scale = 1.0 / std::sqrt(static_cast<double>(c.head_dim));
    plain16 = plain_16bit_attention(as_hnd(in.q, c.layout), as_hnd(in.k, c.layout), as_hnd(in.v, c.layout), c.causal,
                                    sm_scale);
  }
  return judge_attention(c, backend, reference, out, ref, plain16);
}

at::Tensor plain_16bit_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal,
                                 double sm_scale) {
  const auto dtype = q.scalar_type();
  const int64_t group = q.size(1) / k.size(1), len_q = q.size(2), len_k = k.size(2);
  auto round16 = [dtype](const at::Tensor& t) { return t.to(dtype).to(at::kFloat); };
  at::Tensor kf = k.to(at::kFloat).repeat_interleave(group, 1);
  at::Tensor vf = v.to(at::kFloat).repeat_interleave(group, 1);
  at::Tensor out = at::empty({q.size(0), q.size(1), len_q, q.size(3)}, q.options());
  // Blocks of query rows keep the score matrix near 64M elements (the 32K-token GPU cases would need 32 GB).
  const int64_t per_row = std::max<int64_t>(1, q.size(0) * q.size(1) * len_k);
  const int64_t rows = std::clamp<int64_t>((int64_t{1} << 26) / per_row, 1, len_q);
  for (int64_t r0 = 0; r0 < len_q; r0 += rows) {
    const int64_t r1 = std::min(len_q, r0 + rows);
    at::Tensor s = round16(at::matmul(q.slice(2, r0, r1).to(at::kFloat), kf.transpose(-1, -2)) * sm_scale);
    if (causal) {
      auto opts = at::TensorOptions().dtype(at::kLong).device(q.device());
      at::Tensor i = at::arange(r0, r1, opts).unsqueeze(1), j = at::arange(len_k, opts).unsqueeze(0);
      s = s.masked_fill(j > i + (len_k - len_q), -std::numeric_limits<float>::infinity());
    }
    at::Tensor p = round16(at::nan_to_num(at::softmax(s, -1), 0.0));  // rows with no visible key: 0
    out.slice(2, r0, r1).copy_(at::matmul(p, vf));
  }
  return out;
}

}  // namespace sageval::eval
