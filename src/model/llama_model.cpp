#include "sageval/model/llama_model.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>
#include <stdexcept>

#include <c10/core/DeviceGuard.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sageval/kernels/attention_problem.h"
#include "sageval/model/cuda_graph.h"
#include "sageval/model/safetensors.h"
#include "sageval/build_paths.h"

namespace sageval::model {
namespace {

// Loads one weight, checking dtype and shape against the config, and converts it to the model's device/dtype.
at::Tensor load_weight(const SafetensorsCheckpoint& ckpt, const std::string& name, at::IntArrayRef shape,
                       const LoadOptions& opt, at::ScalarType dtype) {
  if (!ckpt.contains(name))
    throw std::runtime_error(fmt::format("checkpoint '{}': missing tensor '{}'", ckpt.folder(), name));
  at::Tensor t = ckpt.tensor(name);
  const auto st = t.scalar_type();
  if (st != at::kFloat && st != at::kHalf && st != at::kBFloat16)
    throw std::runtime_error(fmt::format("checkpoint file '{}': tensor '{}' has dtype {} (supported: F32, F16, BF16)",
                                         ckpt.file_of(name), name, c10::toString(st)));
  if (t.sizes() != shape)
    throw std::runtime_error(fmt::format("checkpoint file '{}': tensor '{}' has shape {} but the config implies {}",
                                         ckpt.file_of(name), name, fmt::join(t.sizes(), "x"),
                                         fmt::join(shape, "x")));
  return t.to(opt.device, dtype, /*non_blocking=*/false, /*copy=*/true);
}

// Tensors a checkpoint may hold that the runner does not need: rotary inverse frequencies saved by old
// transformers versions (recomputed from the config, as transformers itself does).
bool harmless_extra(const std::string& name) {
  static const std::string suffixes[] = {"rotary_emb.inv_freq", "rotary_emb.original_inv_freq"};
  for (const std::string& s : suffixes)
    if (name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) return true;
  return false;
}

// libtorch builds differ in which dtypes their CPU matmul takes (1.13 has no float16 one); find out at load,
// before the first forward fails deep inside a layer.
void check_dtype_runs(at::ScalarType dtype, const at::Device& device) {
  try {
    const auto opts = at::TensorOptions().dtype(dtype).device(device);
    at::linear(at::ones({2, 4}, opts), at::ones({3, 4}, opts), at::ones({3}, opts));
  } catch (const std::exception&) {
    throw std::runtime_error(fmt::format("dtype {} on {} is not supported by this libtorch: its matrix products "
                                         "fail there; pass --dtype fp32 (or bf16), or run on a GPU",
                                         c10::toString(dtype), device.str()));
  }
}

// x times weights stacked by rows (q/k/v, gate/up): on CUDA one product, two or three launches fewer a layer; on
// the CPU one product per block, as the weights were multiplied before they were stacked, so that CPU results do
// not move (OpenBLAS takes other kernels for the stacked shape: up to 1.9e-6 apart in float32).
at::Tensor stacked_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, at::IntArrayRef rows) {
  if (x.is_cuda()) return at::linear(x, w, b);
  std::vector<at::Tensor> parts;
  int64_t r0 = 0;
  for (const int64_t n : rows) {
    parts.push_back(at::linear(x, w.slice(0, r0, r0 + n), b.defined() ? b.slice(0, r0, r0 + n) : at::Tensor()));
    r0 += n;
  }
  return at::cat(parts, -1);
}

// RoPE as transformers computes it, x * cos + rotate_half(x) * sin with rotate_half(x) = [-x2, x1], in one roll:
// rotate_half(x) * sin = roll(x) * [-sin1, sin2] exactly (a sign is exact), three kernels fewer per call.
at::Tensor rotate(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& signed_sin) {
  return x * cos + at::roll(x, x.size(-1) / 2, -1) * signed_sin;
}

}  // namespace

// The static decode steps of one cache: their inputs on the device and one captured graph per key bucket.
struct DecodeGraphs {
  // The graphs hold a model's weights' addresses and its backends' choices as set_attention left them; the version
  // is process-wide (a new model or a new selection has a new one), so a mismatch means: capture anew.
  uint64_t attention_version = 0;
  at::Tensor tokens;                  // int64 [B, 1]
  at::Tensor position;                // int64 [1]: the cache's length before the step
  std::optional<GraphPool> pool;      // shared by the buckets' graphs: one replays at a time
  std::map<int64_t, std::unique_ptr<CapturedCall>> by_bucket;
  int64_t captures = 0;               // graphs captured over the cache, those dropped by set_attention included
  std::string kernel_refusal;         // a kernel refused the static step once: the cache decodes by forward()
  DecodeMode last = DecodeMode::kForward;
  std::string fallback_reason;
};

int64_t KVCache::captured_graphs() const { return graphs_ ? graphs_->captures : 0; }

const char* to_string(DecodeMode mode) {
  switch (mode) {
    case DecodeMode::kGraph: return "graph";
    case DecodeMode::kStatic: return "static";
    case DecodeMode::kForward: return "forward";
  }
  return "?";
}

int64_t decode_key_bucket(int64_t length, int64_t capacity) {
  if (length < 1 || length > capacity)
    throw std::invalid_argument(fmt::format("decode_key_bucket: length {} outside [1, capacity {}]", length, capacity));
  int64_t bucket = kernels::kDecodeMinKeys;
  while (bucket < length) bucket *= 2;
  return std::min(bucket, capacity);
}

std::string default_model_dir() { return SAGEVAL_SOURCE_DIR "/data/models/sageval-byte-llama"; }

std::unique_ptr<LlamaModel> LlamaModel::load(const std::string& folder, const LoadOptions& opt) {
  std::unique_ptr<LlamaModel> m(new LlamaModel());
  m->config_ = load_config(folder);
  m->folder_ = folder;
  m->device_ = opt.device;
  m->dtype_ = opt.dtype.value_or(opt.device.is_cuda() ? at::kHalf : at::kFloat);
  const ModelConfig& c = m->config_;
  check_dtype_runs(m->dtype_, opt.device);
  const SafetensorsCheckpoint ckpt = SafetensorsCheckpoint::open(folder);
  std::set<std::string> used;
  auto w = [&](const std::string& name, at::IntArrayRef shape) {
    used.insert(name);
    return load_weight(ckpt, name, shape, opt, m->dtype_);
  };
  const int64_t h = c.hidden_size, qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim;
  m->embed_ = w("model.embed_tokens.weight", {c.vocab_size, h});
  m->final_norm_ = w("model.norm.weight", {h});
  if (c.tie_word_embeddings) {
    m->lm_head_ = m->embed_;
    // transformers 4.x ties over a saved lm_head, 5.x keeps it apart: only an identical one is unambiguous.
    if (ckpt.contains("lm_head.weight")) {
      if (!at::equal(w("lm_head.weight", {c.vocab_size, h}), m->embed_))
        throw std::runtime_error(fmt::format(
            "checkpoint '{}': tie_word_embeddings is true but lm_head.weight differs from model.embed_tokens.weight "
            "(transformers 4.x would use the embeddings, 5.x the saved head)", folder));
    }
  } else {
    m->lm_head_ = w("lm_head.weight", {c.vocab_size, h});
  }
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    Layer l;
    l.input_norm = w(p + "input_layernorm.weight", {h});
    l.post_norm = w(p + "post_attention_layernorm.weight", {h});
    // q, k and v (and gate and up) as one matrix each: on CUDA one product instead of three (two), a third of
    // the launches a decode step makes (stacked_linear).
    l.qkv_w = at::cat({w(p + "self_attn.q_proj.weight", {qd, h}), w(p + "self_attn.k_proj.weight", {kvd, h}),
                       w(p + "self_attn.v_proj.weight", {kvd, h})});
    l.o_w = w(p + "self_attn.o_proj.weight", {h, qd});
    if (c.qkv_bias)
      l.qkv_b = at::cat({w(p + "self_attn.q_proj.bias", {qd}), w(p + "self_attn.k_proj.bias", {kvd}),
                         w(p + "self_attn.v_proj.bias", {kvd})});
    if (c.o_bias) l.o_b = w(p + "self_attn.o_proj.bias", {h});
    l.gate_up_w = at::cat({w(p + "mlp.gate_proj.weight", {c.intermediate_size, h}),
                           w(p + "mlp.up_proj.weight", {c.intermediate_size, h})});
    l.down_w = w(p + "mlp.down_proj.weight", {h, c.intermediate_size});
    if (c.mlp_bias) {
      l.gate_up_b = at::cat({w(p + "mlp.gate_proj.bias", {c.intermediate_size}),
                             w(p + "mlp.up_proj.bias", {c.intermediate_size})});
      l.down_b = w(p + "mlp.down_proj.bias", {h});
    }
    m->layers_.push_back(std::move(l));
  }
  // Every tensor is used or known to be harmless: one the config does not account for (a bias the config does
  // not declare, a classification head, quantization scales) would otherwise be dropped in silence.
  std::vector<std::string> unused;
  for (const std::string& name : ckpt.names())
    if (used.count(name) == 0 && !harmless_extra(name)) unused.push_back(name);
  if (!unused.empty()) {
    const size_t shown = std::min<size_t>(unused.size(), 8);
    throw std::runtime_error(fmt::format(
        "checkpoint '{}': {} tensor{} the {} config does not account for: {}{} (a bias, head or layer this config "
        "does not declare; refusing to run the model without {})",
        folder, unused.size(), unused.size() == 1 ? "" : "s", c.architecture,
        fmt::join(unused.begin(), unused.begin() + static_cast<std::ptrdiff_t>(shown), ", "),
        unused.size() > shown ? ", ..." : "", unused.size() == 1 ? "it" : "them"));
  }
  m->inv_freq_ = rope_inverse_frequencies(c).to(opt.device);
  m->set_attention({});
  return m;
}

void LlamaModel::set_attention(const AttentionSelection& selection) {
  for (const auto& [layer, name] : selection.layer_backend)
    if (layer < 0 || layer >= config_.num_layers)
      throw std::invalid_argument(fmt::format("attention override for layer {} but the model has {} layers", layer,
                                              config_.num_layers));
  for (const auto& [layer, heads] : selection.head_backend) {
    if (layer < 0 || layer >= config_.num_layers)
      throw std::invalid_argument(fmt::format("head override in layer {} but the model has {} layers", layer, config_.num_layers));
    for (const auto& [head, name] : heads)
      if (head < 0 || head >= config_.num_heads)
        throw std::invalid_argument(fmt::format("head override for head {} of layer {} but the model has {} heads", head,
                                                layer, config_.num_heads));
  }
  // A backend and the dtype its attention runs in: the model's, or the backend's first accepted one.
  auto prepare = [&](const std::string& name) {
    std::shared_ptr<AttentionBackend> b = make_backend(name);
    const auto caps = b->capabilities();
    at::ScalarType dt = dtype_;
    if (std::find(caps.dtypes.begin(), caps.dtypes.end(), dtype_) == caps.dtypes.end()) {
      dt = caps.dtypes.empty() ? dtype_ : caps.dtypes.front();
    }
    const bool head_dim_ok = caps.head_dims.empty() || std::find(caps.head_dims.begin(), caps.head_dims.end(),
                                                                 static_cast<int>(config_.head_dim)) != caps.head_dims.end();
    if (!head_dim_ok)
      throw std::invalid_argument(fmt::format("attention backend '{}' does not support this model's head dim {}",
                                              b->name(), config_.head_dim));
    return std::make_pair(std::move(b), dt);
  };
  std::vector<std::shared_ptr<AttentionBackend>> backends;
  std::vector<at::ScalarType> dtypes;
  std::vector<std::vector<HeadOverride>> overrides(static_cast<size_t>(config_.num_layers));
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    auto it = selection.layer_backend.find(i);
    auto [b, dt] = prepare(it == selection.layer_backend.end() ? selection.backend : it->second);
    backends.push_back(std::move(b));
    dtypes.push_back(dt);
    const auto heads = selection.head_backend.find(i);
    if (heads == selection.head_backend.end()) continue;
    std::map<std::string, std::vector<int64_t>> by_backend;
    for (const auto& [head, name] : heads->second) by_backend[name].push_back(head);
    for (const auto& [name, list] : by_backend) {
      auto [hb, hdt] = prepare(name);
      overrides[static_cast<size_t>(i)].push_back(
          {std::move(hb), hdt, at::tensor(list, at::TensorOptions().dtype(at::kLong)).to(device_)});
    }
  }
  selection_ = selection;
  // Process-wide, so that a cache's graphs never match a later model that happens to reuse this one's address.
  static std::atomic<uint64_t> next_version{1};
  attention_version_ = next_version++;
  layer_backends_ = std::move(backends);
  layer_attention_dtype_ = std::move(dtypes);
  head_overrides_ = std::move(overrides);
  graph_refusal_ = find_decode_graph_refusal();  // decode asks at every step; it changes only here
}

at::ScalarType LlamaModel::attention_dtype(int64_t layer) const { return layer_attention_dtype_.at(layer); }

std::pair<at::Tensor, at::Tensor> LlamaModel::rope_tables(int64_t positions) const {
  // Angles in float32 for positions 0..positions-1, cos and sin cast to the activation dtype as transformers does;
  // sin's first half negated for rotate().
  const at::Tensor pos = at::arange(positions, at::TensorOptions().dtype(at::kLong).device(device_)).to(at::kFloat);
  const at::Tensor freqs = at::outer(pos, inv_freq_);
  const at::Tensor emb = at::cat({freqs, freqs}, -1);
  const double scaling = rope_attention_scaling(config_);  // yarn scales cos and sin; 1 otherwise
  const at::Tensor sign = at::cat({at::full({config_.head_dim / 2}, -1.0, emb.options()),
                                   at::ones({config_.head_dim / 2}, emb.options())});
  return {(emb.cos() * scaling).to(dtype_), ((emb.sin() * scaling).to(dtype_) * sign.to(dtype_))};
}

KVCache LlamaModel::make_cache(int64_t batch, int64_t capacity) const {
  KVCache cache;
  cache.batch_ = batch;
  cache.capacity_ = capacity;
  // Every position's RoPE angles once: a step gathers its row instead of computing them (nine launches fewer).
  std::tie(cache.cos_, cache.signed_sin_) = rope_tables(capacity);
  auto opts = at::TensorOptions().dtype(dtype_).device(device_);
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    cache.k_.push_back(at::empty({batch, capacity, config_.num_kv_heads, config_.head_dim}, opts));
    cache.v_.push_back(at::empty({batch, capacity, config_.num_kv_heads, config_.head_dim}, opts));
  }
  return cache;
}

at::Tensor LlamaModel::rms_norm(const at::Tensor& x, const at::Tensor& weight) const {
  // As transformers: statistics in float32, the normalised value rounded to the activation dtype, then scaled.
  at::Tensor x32 = x.to(at::kFloat);
  at::Tensor var = x32.pow(2).mean(-1, /*keepdim=*/true);
  return weight * (x32 * at::rsqrt(var + config_.rms_norm_eps)).to(x.scalar_type());
}

at::Tensor LlamaModel::attention_block(int64_t index, const Layer& l, const at::Tensor& x, const at::Tensor& cos,
                                       const at::Tensor& sin, const CacheAccess& access) const {
  const int64_t b = x.size(0), t = x.size(1), d = config_.head_dim;
  const int64_t hq = config_.num_heads, hkv = config_.num_kv_heads;
  const at::Tensor qkv = stacked_linear(x, l.qkv_w, l.qkv_b, {hq * d, hkv * d, hkv * d}).view({b, t, hq + 2 * hkv, d});
  const at::Tensor qk = rotate(qkv.slice(2, 0, hq + hkv), cos, sin);  // q and k rotated together
  const at::Tensor q = qk.slice(2, 0, hq);
  at::Tensor k = qk.slice(2, hq), v = qkv.slice(2, hq + hkv);
  AttentionOptions opt;
  if (access.cache != nullptr) {
    at::Tensor& kc = access.cache->k_[index];
    at::Tensor& vc = access.cache->v_[index];
    if (access.position.defined()) {  // the static step: nothing here depends on the length on the host
      kc.index_copy_(1, access.position, k);
      vc.index_copy_(1, access.position, v);
      k = kc.slice(1, 0, access.bucket);
      v = vc.slice(1, 0, access.bucket);
      opt.kv_lengths = access.kv_lengths;
    } else {
      kc.slice(1, access.past, access.past + t).copy_(k);
      vc.slice(1, access.past, access.past + t).copy_(v);
      k = kc.slice(1, 0, access.past + t);
      v = vc.slice(1, 0, access.past + t);
    }
  }
  opt.layout = Layout::NHD;
  opt.causal = true;  // bottom-right: the t new queries see the whole past plus themselves
  opt.check_finite = false;  // one pass and, on GPUs, one sync per layer; the suites check logits instead
  auto run = [&](const AttentionBackend& backend, at::ScalarType adt) {
    return backend.forward(q.to(adt), k.to(adt), v.to(adt), opt).out.to(dtype_);  // .to: no copy when equal
  };
  at::Tensor out = run(*layer_backends_[index], layer_attention_dtype_[index]);
  for (const HeadOverride& h : head_overrides_[static_cast<size_t>(index)])  // [b, t, heads, d]: heads on dim 2
    out.index_copy_(2, h.heads, run(*h.backend, h.dtype).index_select(2, h.heads));
  return at::linear(out.reshape({b, t, config_.num_heads * d}), l.o_w, l.o_b);
}

at::Tensor LlamaModel::mlp(const Layer& l, const at::Tensor& x) const {
  const int64_t inter = config_.intermediate_size;
  const at::Tensor gate_up = stacked_linear(x, l.gate_up_w, l.gate_up_b, {inter, inter});
  at::Tensor gate = gate_up.slice(-1, 0, inter);
  switch (config_.hidden_act) {
    case Activation::kSilu: gate = at::silu(gate); break;
    case Activation::kGelu: gate = at::gelu(gate); break;
    case Activation::kGeluTanh: gate = at::gelu(gate, "tanh"); break;
    case Activation::kRelu: gate = at::relu(gate); break;
  }
  return at::linear(gate * gate_up.slice(-1, inter), l.down_w, l.down_b);
}

void LlamaModel::check_room(const KVCache& cache, int64_t batch, int64_t tokens) const {
  if (cache.batch_ != batch)
    throw std::invalid_argument(fmt::format("cache batch {} differs from tokens batch {}", cache.batch_, batch));
  if (cache.length_ + tokens > cache.capacity_)
    throw std::invalid_argument(fmt::format("cache capacity {} exceeded: {} cached + {} new tokens", cache.capacity_,
                                            cache.length_, tokens));
}

void LlamaModel::check_token_ids(const at::Tensor& tokens) const {
  if (tokens.numel() == 0 || !tokens.is_cpu()) return;  // on the device: the caller's (see forward's comment)
  const int64_t lo = tokens.min().item<int64_t>(), hi = tokens.max().item<int64_t>();
  if (lo < 0 || hi >= config_.vocab_size)
    throw std::invalid_argument(fmt::format("token ids must be in [0, {}), got [{}, {}]", config_.vocab_size, lo, hi));
}

void LlamaModel::check_window(int64_t past, int64_t tokens) const {
  // Sliding-window layers attend to the last W keys only. For sequences of at most W tokens that is plain causal
  // attention; longer ones would need a windowed mask, which no attention backend implements yet.
  if (config_.sliding_window && past + tokens > *config_.sliding_window)
    throw std::invalid_argument(fmt::format(
        "this model's sliding_window is {} tokens and this forward covers {} (past {} + new {}): attention over "
        "a window is not implemented by the attention backends, so sequences longer than the window are refused",
        *config_.sliding_window, past + tokens, past, tokens));
}

at::Tensor LlamaModel::forward(const at::Tensor& tokens, KVCache* cache, LayerCapture* capture) const {
  if (tokens.dim() != 2 || tokens.scalar_type() != at::kLong)
    throw std::invalid_argument(fmt::format("tokens must be int64 [batch, length], got {} of rank {}",
                                            c10::toString(tokens.scalar_type()), tokens.dim()));
  const int64_t b = tokens.size(0), t = tokens.size(1);
  if (t == 0) throw std::invalid_argument("tokens are empty");
  check_token_ids(tokens);
  const int64_t past = cache ? cache->length_ : 0;
  if (cache != nullptr) check_room(*cache, b, t);
  check_window(past, t);
  CacheAccess access;
  access.cache = cache;
  access.past = past;
  const auto [cos, sin] = cache != nullptr ? std::make_pair(cache->cos_.slice(0, past, past + t),
                                                            cache->signed_sin_.slice(0, past, past + t))
                                           : rope_tables(t);
  at::Tensor logits = run_layers(at::embedding(embed_, tokens.to(device_)), cos, sin, access, capture);
  if (cache != nullptr) cache->length_ += t;
  return logits;
}

at::Tensor LlamaModel::run_layers(at::Tensor x, const at::Tensor& cos_rows, const at::Tensor& signed_sin_rows,
                                  const CacheAccess& access, LayerCapture* capture) const {
  const int64_t t = cos_rows.size(0);
  const at::Tensor cos = cos_rows.view({1, t, 1, config_.head_dim}), sin = signed_sin_rows.view({1, t, 1, config_.head_dim});
  if (capture != nullptr) {
    capture->attention_out.clear();
    capture->hidden.clear();
  }
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    const Layer& l = layers_[i];
    at::Tensor a = attention_block(i, l, rms_norm(x, l.input_norm), cos, sin, access);
    x = x + a;
    at::Tensor h = rms_norm(x, l.post_norm);
    x = x + mlp(l, h);
    if (capture != nullptr) {
      capture->attention_out.push_back(a);
      capture->hidden.push_back(x);
    }
  }
  return at::linear(rms_norm(x, final_norm_), lm_head_).to(at::kFloat);
}

at::Tensor LlamaModel::static_step(const at::Tensor& tokens, const at::Tensor& position, int64_t bucket,
                                   KVCache& cache) const {
  CacheAccess access;
  access.cache = &cache;
  access.position = position;
  access.bucket = bucket;
  access.kv_lengths = (position + 1).to(at::kInt).expand({tokens.size(0)}).contiguous();
  return run_layers(at::embedding(embed_, tokens), cache.cos_.index_select(0, position),
                    cache.signed_sin_.index_select(0, position), access, nullptr)
      .select(1, 0);
}

std::string LlamaModel::decode_graph_refusal() const { return graph_refusal_; }

std::string LlamaModel::find_decode_graph_refusal() const {
  if (!device_.is_cuda()) return fmt::format("the model is on {}", device_.str());
  if (!kernels::is_decode_call(1, config_.num_heads, config_.num_kv_heads, kernels::kDecodeMinKeys, true))
    return fmt::format("{} query heads per kv head: the decode kernel takes at most {} query rows per kv head",
                       config_.num_heads / config_.num_kv_heads, kernels::kDecodeMaxRows);
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    std::vector<const AttentionBackend*> backends{layer_backends_[static_cast<size_t>(i)].get()};
    for (const HeadOverride& h : head_overrides_[static_cast<size_t>(i)]) backends.push_back(h.backend.get());
    for (const AttentionBackend* b : backends)
      if (!b->capabilities().cuda_kv_lengths)
        return fmt::format("attention backend '{}' (layer {}) does not take kv_lengths on CUDA", b->name(), i);
  }
  return "";
}

at::Tensor LlamaModel::decode(const at::Tensor& tokens, KVCache& cache, DecodeMode mode) const {
  if (tokens.dim() != 2 || tokens.size(1) != 1 || tokens.scalar_type() != at::kLong)
    throw std::invalid_argument(fmt::format("decode takes int64 tokens [batch, 1], got {} of shape [{}]",
                                            c10::toString(tokens.scalar_type()), fmt::join(tokens.sizes(), ", ")));
  if (!cache.graphs_) cache.graphs_ = std::make_shared<DecodeGraphs>();
  DecodeGraphs& g = *cache.graphs_;
  if (g.attention_version != attention_version_) {  // captured for other weights or backends
    g.by_bucket.clear();
    g.kernel_refusal.clear();
    g.attention_version = attention_version_;
  }
  std::string refusal = mode == DecodeMode::kForward ? "" : graph_refusal_;
  if (refusal.empty() && mode != DecodeMode::kForward) refusal = g.kernel_refusal;
  auto by_forward = [&](std::string why) {
    at::Tensor logits = forward(tokens, &cache).select(1, 0);
    g.last = DecodeMode::kForward;
    g.fallback_reason = std::move(why);
    return logits;
  };
  if (mode == DecodeMode::kForward || !refusal.empty()) return by_forward(refusal);
  check_token_ids(tokens);
  check_room(cache, tokens.size(0), 1);
  check_window(cache.length_, 1);
  const int64_t past = cache.length_, bucket = decode_key_bucket(past + 1, cache.capacity_);
  if (!g.tokens.defined()) {
    const auto opts = at::TensorOptions().dtype(at::kLong).device(device_);
    g.tokens = at::zeros({cache.batch_, 1}, opts);
    g.position = at::zeros({1}, opts);
  }
  const c10::DeviceGuard on_model_device(device_);  // graphs are captured on the current device's streams
  g.tokens.copy_(tokens);
  g.position.fill_(past);
  at::Tensor logits;
  try {
    if (mode == DecodeMode::kStatic) {
      logits = static_step(g.tokens, g.position, bucket, cache);
    } else {
      auto it = g.by_bucket.find(bucket);
      if (it == g.by_bucket.end()) {
        // A pool whose graphs are all gone (set_attention dropped them, or a capture failed) has been released by
        // libtorch, and capturing into it again asserts: a cache's first graph takes a new one.
        if (g.by_bucket.empty()) g.pool = new_graph_pool();
        auto step = [&] { return static_step(g.tokens, g.position, bucket, cache); };
        it = g.by_bucket.emplace(bucket, std::make_unique<CapturedCall>(step, *g.pool)).first;
        ++g.captures;
      }
      logits = it->second->replay();
    }
  } catch (const UnsupportedInput& e) {  // a kernel that does not take the call (e.g. its shared memory)
    g.kernel_refusal = e.what();
    return by_forward(g.kernel_refusal);
  }
  cache.length_ += 1;
  g.last = mode;
  g.fallback_reason.clear();
  return logits;
}

DecodeMode LlamaModel::decode_mode_used(const KVCache& cache) const {
  return cache.graphs_ ? cache.graphs_->last : DecodeMode::kForward;
}

std::string LlamaModel::decode_fallback_reason(const KVCache& cache) const {
  return cache.graphs_ ? cache.graphs_->fallback_reason : "";
}

}  // namespace sageval::model
