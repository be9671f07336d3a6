// The part of AttentionBackend shared by every backend: validation, layout handling, the default scale.
#include <cmath>
#include <functional>

#include <fmt/format.h>

#include "backends/validate_inputs.h"
#include "sageval/attention.h"
#include "sageval/kernels/attention_problem.h"

namespace sageval {

const char* to_string(Layout layout) { return layout == Layout::HND ? "HND" : "NHD"; }

namespace {

// kv_lengths on CPU: each batch row on its slice of keys (a row with none gets 0 and LSE -inf, as a query that
// sees no key).
AttentionOutput per_batch_row(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const HndOptions& o,
                              const at::Tensor& kv_lengths,
                              const std::function<AttentionOutput(const at::Tensor&, const at::Tensor&,
                                                                  const at::Tensor&, const HndOptions&)>& run) {
  std::vector<at::Tensor> outs, lses;
  AttentionOutput result;
  at::ScalarType dtype = q.scalar_type();  // `math` returns its compute dtype: the rows without keys follow it
  const auto lengths = kv_lengths.accessor<int32_t, 1>();  // validated: int32 [B] on the CPU
  for (int64_t b = 0; b < q.size(0); ++b) {
    const int64_t len = lengths[b];
    const at::Tensor qb = q.slice(0, b, b + 1);
    if (len == 0) {
      outs.push_back(at::zeros_like(qb));
      lses.push_back(at::full({1, q.size(1), q.size(2)}, -INFINITY, q.options().dtype(at::kFloat)));
      continue;
    }
    AttentionOutput r = run(qb, k.slice(0, b, b + 1).slice(2, 0, len), v.slice(0, b, b + 1).slice(2, 0, len), o);
    dtype = r.out.scalar_type();
    outs.push_back(r.out);
    lses.push_back(r.lse);
    for (std::string& c : r.input_copies) result.input_copies.push_back(fmt::format("batch row {}: {}", b, c));
  }
  for (at::Tensor& out : outs) out = out.to(dtype);
  result.out = at::cat(outs, 0);
  if (o.return_lse) result.lse = at::cat(lses, 0);
  return result;
}

}  // namespace

AttentionOutput AttentionBackend::forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                          const AttentionOptions& options) const {
  detail::validate_attention_inputs(name(), capabilities(), q, k, v, options);
  const double sm_scale = options.sm_scale.value_or(1.0 / std::sqrt(static_cast<double>(q.size(3))));
  // NHD [B, N, H, D] is a transposed view of HND [B, H, N, D]; backends see HND strides, no copy.
  const bool nhd = options.layout == Layout::NHD;
  auto to_hnd = [nhd](const at::Tensor& t) { return nhd ? t.transpose(1, 2) : t; };
  const at::Tensor qh = to_hnd(q), kh = to_hnd(k), vh = to_hnd(v);
  HndOptions hnd;
  hnd.causal = options.causal;
  hnd.sm_scale = sm_scale;
  hnd.return_lse = options.return_lse;
  hnd.copy_misaligned = options.copy_misaligned;
  hnd.check_output = options.check_output;
  hnd.decode = kernels::is_decode_call(qh.size(2), qh.size(1), kh.size(1), kh.size(2), options.kv_lengths.defined());
  AttentionOutput result;
  try {
    if (options.kv_lengths.defined() && q.is_cpu()) {
      result = per_batch_row(qh, kh, vh, hnd, options.kv_lengths,
                             [this](const at::Tensor& qb, const at::Tensor& kb, const at::Tensor& vb,
                                    const HndOptions& o) { return forward_hnd(qb, kb, vb, o); });
    } else {
      hnd.kv_lengths = options.kv_lengths;
      result = forward_hnd(qh, kh, vh, hnd);
    }
  } catch (const UnsupportedInput& e) {  // a refusal from below (a kernel's, a library's), named as validation names it
    throw UnsupportedInput(fmt::format("attention backend '{}': {}", name(), e.what()));
  }
  if (nhd) result.out = result.out.transpose(1, 2).contiguous();
  return result;
}

}  // namespace sageval
