// A Llama-family decoder (Llama, Mistral, Qwen2) whose every attention call goes through AttentionBackend.
// Prefill returns logits for every position; a KV cache extends a sequence one step (or chunk) at a time.
// Tensors flow as [batch, tokens, heads, head_dim] (NHD): the projections produce that layout, the cache keeps
// it, and the backends take it without copies.
#pragma once

#include <map>
#include <utility>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "sageval/attention.h"
#include "sageval/model/config.h"

namespace sageval::model {

struct LoadOptions {
  at::Device device = at::kCPU;
  // Weight and activation dtype; default float32 on CPU, float16 on CUDA.
  std::optional<at::ScalarType> dtype;
};

struct AttentionSelection {
  std::string backend = "math";                 // for every layer...
  std::map<int64_t, std::string> layer_backend;  // ...except these (e.g. first and last kept in fp16)
  // layer -> (query head -> backend): in that layer these heads' outputs come from another backend. The layer then
  // runs both backends over all heads and keeps each head's output from its own: a tracing aid (per-head
  // sensitivity, eval/sensitivity.h) that leaves the backends and the tensor-to-kernel bridge as they are.
  std::map<int64_t, std::map<int64_t, std::string>> head_backend;
};

// Per-layer activations captured during a forward pass, for the activation-drift suite.
struct LayerCapture {
  std::vector<at::Tensor> attention_out;  // [B, T, hidden] after o_proj, per layer
  std::vector<at::Tensor> hidden;         // [B, T, hidden] after the whole block (residuals added), per layer
};

struct DecodeGraphs;  // llama_model.cpp

class KVCache {
 public:
  KVCache() = default;
  int64_t length() const { return length_; }
  int64_t capacity() const { return capacity_; }
  int64_t batch() const { return batch_; }
  // Decode steps captured as CUDA graphs over this cache so far (LlamaModel::decode): one per key bucket, and each
  // again after set_attention (the graphs captured before are dropped, not replayed).
  int64_t captured_graphs() const;

 private:
  friend class LlamaModel;
  std::vector<at::Tensor> k_, v_;  // per layer [B, capacity, Hkv, D]
  at::Tensor cos_, signed_sin_;    // RoPE per position [capacity, D] (LlamaModel::rope_tables)
  int64_t length_ = 0, capacity_ = 0, batch_ = 0;
  std::shared_ptr<DecodeGraphs> graphs_;  // the graphs hold this cache's addresses: they live and die with it
};

// How LlamaModel::decode runs a step.
enum class DecodeMode {
  kGraph,    // the static step, captured as a CUDA graph per (cache, key bucket) at first use, then replayed
  kStatic,   // the same static step launched kernel by kernel: what a graph replays, without the graph
  kForward,  // forward(tokens, &cache): the keys sliced to the filled length on the host
};
const char* to_string(DecodeMode mode);

// The keys a static decode step attends over for a cache filled to `length` (the new token included): `length`
// rounded up to a power of two, at least 256, at most `capacity`. One captured graph serves a whole bucket; the
// filled length is read on the device (AttentionOptions::kv_lengths).
int64_t decode_key_bucket(int64_t length, int64_t capacity);

// The bundled default model (data/models/sageval-byte-llama of the source tree): the one place its path is
// written. Users pass their own with --model.
std::string default_model_dir();

class LlamaModel {
 public:
  // Reads config.json and the safetensors weights of a Hugging Face folder; checks every tensor's presence,
  // dtype and shape against the config, and that every tensor in the files is used (rotary inv_freq buffers
  // of old checkpoints excepted); errors name the file (or folder) and the tensor.
  static std::unique_ptr<LlamaModel> load(const std::string& folder, const LoadOptions& options = {});

  const ModelConfig& config() const { return config_; }
  at::ScalarType dtype() const { return dtype_; }
  at::Device device() const { return device_; }
  const std::string& folder() const { return folder_; }

  // Chooses the attention backend(s). A backend that does not accept the activation dtype (float32 models with
  // the 16-bit backends) gets q, k and v cast to its first accepted 16-bit dtype, its output cast back:
  // `attention_dtype(layer)` says which dtype a layer's attention runs in.
  void set_attention(const AttentionSelection& selection);
  const AttentionSelection& attention() const { return selection_; }
  at::ScalarType attention_dtype(int64_t layer) const;

  KVCache make_cache(int64_t batch, int64_t capacity) const;

  // tokens: int64 [B, T]. Without a cache: a prefill from position 0. With one: positions continue from
  // cache->length(), and the new keys and values are appended. Returns float32 logits [B, T, vocab].
  // Token ids on the CPU are checked against the vocabulary; ids already on the device are not (the check would
  // read them back, the host round trip decode avoids): ids picked from this model's logits are in range.
  at::Tensor forward(const at::Tensor& tokens, KVCache* cache = nullptr, LayerCapture* capture = nullptr) const;

  // One decode step, as serving engines run it: tokens int64 [B, 1] (CPU or the model's device) are appended to
  // `cache`; returns float32 logits [B, vocab]. The static step (kGraph, kStatic) writes the new keys and values
  // at a position held on the device and attends over the cache's first decode_key_bucket(length) keys with the
  // filled length passed as kv_lengths, so nothing in it depends on the length on the host and one CUDA graph
  // per bucket serves every step in it. It runs where every attention backend of the model (head overrides
  // included) takes kv_lengths on CUDA and its kernel takes the call; elsewhere (CPU, other backends, a kernel
  // that refuses) decode runs kForward, and decode_mode_used() says so. kGraph's logits are the graph's output
  // buffer, overwritten by the cache's next step of the same bucket: copy them to keep them.
  at::Tensor decode(const at::Tensor& tokens, KVCache& cache, DecodeMode mode = DecodeMode::kGraph) const;
  // The mode decode(…, cache, wanted) ran last with this cache (kForward before any step), and why when it
  // fell back to kForward ("" otherwise).
  DecodeMode decode_mode_used(const KVCache& cache) const;
  std::string decode_fallback_reason(const KVCache& cache) const;
  // Why decode cannot run the static step (kGraph, kStatic) with this model's device and attention backends, ""
  // when it can (a kernel may still refuse a call: decode_fallback_reason then says so).
  std::string decode_graph_refusal() const;

 private:
  std::string find_decode_graph_refusal() const;
  struct Layer {
    at::Tensor input_norm, post_norm;
    at::Tensor qkv_w, o_w, qkv_b, o_b;  // q, k, v stacked [(Hq + 2 Hkv) D, hidden]; biases undefined where none
    at::Tensor gate_up_w, down_w, gate_up_b, down_b;  // gate and up stacked [2 intermediate, hidden]
  };
  LlamaModel() = default;
  at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight) const;
  at::Tensor mlp(const Layer& layer, const at::Tensor& x) const;
  // Where a forward writes the new keys and values and which keys it reads.
  struct CacheAccess {
    KVCache* cache = nullptr;  // none: a prefill without a cache
    int64_t past = 0;          // forward(): written at past.., keys [0, past + T) read
    at::Tensor position;       // static step: int64 [1] on the device, written there...
    int64_t bucket = 0;        // ...and keys [0, bucket) read, of which kv_lengths (int32 [B]) count
    at::Tensor kv_lengths;
  };
  at::Tensor attention_block(int64_t index, const Layer& layer, const at::Tensor& x, const at::Tensor& cos,
                             const at::Tensor& sin, const CacheAccess& access) const;
  // RoPE's cos and sin (first half negated: rotate() in llama_model.cpp) for positions [0, positions): [T, D]. A
  // cache holds its capacity's rows; a step without a cache starts at position 0.
  std::pair<at::Tensor, at::Tensor> rope_tables(int64_t positions) const;
  // The layers and the head from embedded tokens on, with the tokens' RoPE rows [T, D].
  at::Tensor run_layers(at::Tensor x, const at::Tensor& cos, const at::Tensor& signed_sin, const CacheAccess& access,
                        LayerCapture* capture) const;
  // The static decode step: device tokens [B, 1] at the device position [1], logits [B, vocab].
  at::Tensor static_step(const at::Tensor& tokens, const at::Tensor& position, int64_t bucket, KVCache& cache) const;
  void check_token_ids(const at::Tensor& tokens) const;  // CPU tokens against the vocabulary
  void check_room(const KVCache& cache, int64_t batch, int64_t tokens) const;
  void check_window(int64_t past, int64_t tokens) const;  // sliding windows: refused past the window

  ModelConfig config_;
  std::string folder_;
  at::Device device_ = at::kCPU;
  at::ScalarType dtype_ = at::kFloat;
  at::Tensor embed_, final_norm_, lm_head_, inv_freq_;
  std::vector<Layer> layers_;
  AttentionSelection selection_;
  uint64_t attention_version_ = 0;  // changes with set_attention: decode graphs captured before are stale
  std::string graph_refusal_;       // decode_graph_refusal(), found by set_attention
  std::vector<std::shared_ptr<AttentionBackend>> layer_backends_;
  std::vector<at::ScalarType> layer_attention_dtype_;
  struct HeadOverride {
    std::shared_ptr<AttentionBackend> backend;
    at::ScalarType dtype;
    at::Tensor heads;  // int64 query-head indices, on the model's device
  };
  std::vector<std::vector<HeadOverride>> head_overrides_;  // per layer
};

}  // namespace sageval::model
