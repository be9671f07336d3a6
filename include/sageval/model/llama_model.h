// A Llama-family decoder (Llama, Mistral, Qwen2) whose every attention call goes through AttentionBackend.
// Prefill returns logits for every position; a KV cache extends a sequence one step (or chunk) at a time.
// Tensors flow as [batch, tokens, heads, head_dim] (NHD): the projections produce that layout, the cache keeps
// it, and the backends take it without copies.
#pragma once

#include <map>
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

class KVCache {
 public:
  KVCache() = default;
  int64_t length() const { return length_; }
  int64_t capacity() const { return capacity_; }
  int64_t batch() const { return batch_; }

 private:
  friend class LlamaModel;
  std::vector<at::Tensor> k_, v_;  // per layer [B, capacity, Hkv, D]
  int64_t length_ = 0, capacity_ = 0, batch_ = 0;
};

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
  at::Tensor forward(const at::Tensor& tokens, KVCache* cache = nullptr, LayerCapture* capture = nullptr) const;

 private:
  struct Layer {
    at::Tensor input_norm, post_norm;
    at::Tensor q_w, k_w, v_w, o_w, q_b, k_b, v_b, o_b;        // biases undefined where the config has none
    at::Tensor gate_w, up_w, down_w, gate_b, up_b, down_b;
  };
  LlamaModel() = default;
  at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight) const;
  at::Tensor mlp(const Layer& layer, const at::Tensor& x) const;
  at::Tensor attention_block(int64_t index, const Layer& layer, const at::Tensor& x, const at::Tensor& cos,
                             const at::Tensor& sin, KVCache* cache, int64_t past) const;

  ModelConfig config_;
  std::string folder_;
  at::Device device_ = at::kCPU;
  at::ScalarType dtype_ = at::kFloat;
  at::Tensor embed_, final_norm_, lm_head_, inv_freq_;
  std::vector<Layer> layers_;
  AttentionSelection selection_;
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
