#include "backends/validate_inputs.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace sageval::detail {
namespace {

[[noreturn]] void fail(const std::string& backend, const std::string& what) {
  throw std::invalid_argument(fmt::format("attention backend '{}': {}", backend, what));
}

// What the backend's capabilities leave out: UnsupportedInput, so that a suite can count it as such.
[[noreturn]] void refuse(const std::string& backend, const std::string& what) {
  throw UnsupportedInput(fmt::format("attention backend '{}': {}", backend, what));
}

std::string dtype_name(at::ScalarType t) { return std::string(c10::toString(t)); }

}  // namespace

std::string describe_shape(const at::Tensor& t) {
  std::ostringstream out;
  out << "[";
  for (int64_t i = 0; i < t.dim(); ++i) out << (i ? ", " : "") << t.size(i);
  out << "]";
  return out.str();
}

void validate_attention_inputs(const std::string& backend, const BackendCapabilities& caps, const at::Tensor& q,
                               const at::Tensor& k, const at::Tensor& v, const AttentionOptions& options) {
  const char* names[3] = {"q", "k", "v"};
  const at::Tensor* tensors[3] = {&q, &k, &v};
  const char* axes = options.layout == Layout::HND ? "[batch, heads, tokens, head_dim] (layout HND)"
                                                   : "[batch, tokens, heads, head_dim] (layout NHD)";
  for (int i = 0; i < 3; ++i) {
    const at::Tensor& t = *tensors[i];
    if (!t.defined()) fail(backend, fmt::format("{} is an undefined tensor", names[i]));
    if (t.dim() != 4)
      fail(backend, fmt::format("{} must be 4-D {}, got rank {} with shape {}", names[i], axes, t.dim(),
                                describe_shape(t)));
    if (t.numel() == 0) fail(backend, fmt::format("{} is empty (shape {})", names[i], describe_shape(t)));
  }
  // dtype
  if (q.scalar_type() != k.scalar_type() || q.scalar_type() != v.scalar_type())
    fail(backend, fmt::format("q, k and v must share one dtype, got {}, {}, {}", dtype_name(q.scalar_type()),
                              dtype_name(k.scalar_type()), dtype_name(v.scalar_type())));
  if (std::find(caps.dtypes.begin(), caps.dtypes.end(), q.scalar_type()) == caps.dtypes.end()) {
    std::vector<std::string> ok;
    for (auto t : caps.dtypes) ok.push_back(dtype_name(t));
    refuse(backend, fmt::format("dtype {} is not supported (supported: {})", dtype_name(q.scalar_type()),
                              fmt::join(ok, ", ")));
  }
  // device
  if (q.device() != k.device() || q.device() != v.device())
    fail(backend, fmt::format("q, k and v must be on one device, got {}, {}, {}", q.device().str(),
                              k.device().str(), v.device().str()));
  if (q.is_cuda() && !caps.cuda)
    refuse(backend, fmt::format("device {} is not supported: this backend has no CUDA path in this build",
                              q.device().str()));
  if (q.is_cpu() && !caps.cpu) refuse(backend, "device cpu is not supported: this backend runs on CUDA only");
  if (!q.is_cpu() && !q.is_cuda()) fail(backend, fmt::format("device {} is not supported", q.device().str()));
  if (q.layout() != c10::kStrided || k.layout() != c10::kStrided || v.layout() != c10::kStrided)
    fail(backend, "q, k and v must be dense (strided) tensors, not sparse");

  // shapes, in the canonical order [B, H, N, D]
  const int head_axis = options.layout == Layout::HND ? 1 : 2;
  const int token_axis = options.layout == Layout::HND ? 2 : 1;
  if (q.size(0) != k.size(0) || q.size(0) != v.size(0))
    fail(backend, fmt::format("batch sizes differ: q {}, k {}, v {}", q.size(0), k.size(0), v.size(0)));
  if (k.sizes() != v.sizes())
    fail(backend, fmt::format("k and v shapes differ: k {}, v {} (layout {})", describe_shape(k),
                              describe_shape(v), to_string(options.layout)));
  const int64_t hq = q.size(head_axis), hkv = k.size(head_axis);
  if (hq % hkv != 0)
    fail(backend, fmt::format("query heads ({}) must be a multiple of key/value heads ({}) for grouped-query "
                              "attention (layout {}: q {}, k {})",
                              hq, hkv, to_string(options.layout), describe_shape(q), describe_shape(k)));
  const int64_t d = q.size(3);
  if (k.size(3) != d)
    fail(backend, fmt::format("head dims differ: q {}, k/v {}", d, k.size(3)));
  if (!caps.head_dims.empty() &&
      std::find(caps.head_dims.begin(), caps.head_dims.end(), static_cast<int>(d)) == caps.head_dims.end())
    refuse(backend, fmt::format("head dim {} is not supported (supported: {})", d, fmt::join(caps.head_dims, ", ")));

  if (q.is_cuda()) {
    for (int i = 0; i < 3; ++i)
      if (tensors[i]->stride(3) != 1)
        fail(backend, fmt::format("{} must have a contiguous head dim (stride 1), got stride {}", names[i],
                                  tensors[i]->stride(3)));
  }

  // options
  if (options.sm_scale.has_value()) {
    const double s = *options.sm_scale;
    if (!std::isfinite(s) || s <= 0.0)
      fail(backend, fmt::format("sm_scale must be finite and positive, got {}", s));
  }
  if (options.return_lse && !caps.lse)
    refuse(backend, "return_lse is not supported by this backend");
  if (options.causal && !caps.causal) refuse(backend, "causal masks are not supported by this backend");
  if (hq != hkv && !caps.gqa)
    refuse(backend, fmt::format("grouped-query attention (Hq {} != Hkv {}) is not supported by this backend", hq, hkv));

  if (options.kv_lengths.defined()) {
    const at::Tensor& lens = options.kv_lengths;
    if (lens.scalar_type() != at::kInt || lens.dim() != 1 || lens.size(0) != q.size(0))
      fail(backend, fmt::format("kv_lengths must be int32 [batch] = [{}], got {} of shape {}", q.size(0),
                                dtype_name(lens.scalar_type()), describe_shape(lens)));
    if (lens.device() != q.device())
      fail(backend, fmt::format("kv_lengths is on {} but q on {}", lens.device().str(), q.device().str()));
    if (lens.stride(0) != 1) fail(backend, fmt::format("kv_lengths must be contiguous, got stride {}", lens.stride(0)));
    if (q.is_cuda() && !caps.cuda_kv_lengths) refuse(backend, "kv_lengths is not supported on CUDA by this backend");
    if (q.is_cpu()) {
      const int64_t lo = lens.min().item<int64_t>(), hi = lens.max().item<int64_t>();
      if (lo < 0 || hi > k.size(token_axis))
        fail(backend, fmt::format("kv_lengths must lie in [0, {}] (the keys given), got [{}, {}]", k.size(token_axis),
                                  lo, hi));
    }
  }

  if (options.check_finite) {
    for (int i = 0; i < 3; ++i) {
      const at::Tensor& t = *tensors[i];
      std::vector<at::Tensor> parts{t};  // scanned in place: views, no copy
      if (i > 0 && options.kv_lengths.defined()) {
        // Only the keys that count: the rest of a static cache may hold anything. On CUDA not at all (the lengths
        // would have to be read back, the sync kv_lengths exists to avoid).
        if (!q.is_cpu()) continue;
        const auto lengths = options.kv_lengths.accessor<int32_t, 1>();  // checked above: int32 [B], in range
        parts.clear();
        for (int64_t b = 0; b < t.size(0); ++b) parts.push_back(t.select(0, b).narrow(token_axis - 1, 0, lengths[b]));
      }
      const auto finite = [](const at::Tensor& p) { return at::isfinite(p).all().item<bool>(); };
      if (std::all_of(parts.begin(), parts.end(), finite)) continue;
      int64_t nans = 0, infs = 0;
      for (const at::Tensor& p : parts) {
        nans += at::isnan(p).sum().item<int64_t>();
        infs += at::isinf(p).sum().item<int64_t>();
      }
      fail(backend, fmt::format("{} contains non-finite values ({} NaN, {} Inf)", names[i], nans, infs));
    }
  }
}

}  // namespace sageval::detail
