// The part of AttentionBackend shared by every backend: validation, layout handling, the default scale.
#include <cmath>

#include "backends/validate_inputs.h"
#include "sageval/attention.h"

namespace sageval {

const char* to_string(Layout layout) { return layout == Layout::HND ? "HND" : "NHD"; }

AttentionOutput AttentionBackend::forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                          const AttentionOptions& options) const {
  detail::validate_attention_inputs(name(), capabilities(), q, k, v, options);
  const double sm_scale = options.sm_scale.value_or(1.0 / std::sqrt(static_cast<double>(q.size(3))));
  // NHD [B, N, H, D] is a transposed view of HND [B, H, N, D]; backends see HND strides, no copy.
  const bool nhd = options.layout == Layout::NHD;
  auto to_hnd = [nhd](const at::Tensor& t) { return nhd ? t.transpose(1, 2) : t; };
  HndOptions hnd;
  hnd.causal = options.causal;
  hnd.sm_scale = sm_scale;
  hnd.return_lse = options.return_lse;
  hnd.copy_misaligned = options.copy_misaligned;
  hnd.check_output = options.check_output;
  AttentionOutput result = forward_hnd(to_hnd(q), to_hnd(k), to_hnd(v), hnd);
  if (nhd) result.out = result.out.transpose(1, 2).contiguous();
  return result;
}

}  // namespace sageval
