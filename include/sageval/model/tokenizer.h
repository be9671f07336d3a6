// Tokenizers. The default model is byte-level: ids 0-255 are the bytes, then BOS and EOS. Other models are fed
// pre-tokenized token-id files; a Hugging Face tokenizer.json (BPE) can implement Tokenizer later.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sageval/model/config.h"

namespace sageval::model {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::vector<int64_t> encode(const std::string& text, bool add_bos) const = 0;
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;  // special tokens dropped
  virtual std::optional<int64_t> bos() const = 0;
  virtual std::optional<int64_t> eos() const = 0;
};

class ByteTokenizer final : public Tokenizer {
 public:
  static constexpr int64_t kBos = 256;
  static constexpr int64_t kEos = 257;
  std::vector<int64_t> encode(const std::string& text, bool add_bos) const override;
  std::string decode(const std::vector<int64_t>& ids) const override;
  std::optional<int64_t> bos() const override { return kBos; }
  std::optional<int64_t> eos() const override { return kEos; }
};

// The tokenizer for a model folder: byte-level when the config says BOS 256 / EOS 257; otherwise an error that
// says to pass token ids, naming the folder.
std::unique_ptr<Tokenizer> make_tokenizer(const ModelConfig& config, const std::string& folder);

// Whitespace-separated integer token ids. Errors name the file and the offending word.
std::vector<int64_t> read_token_ids(const std::string& path);

}  // namespace sageval::model
