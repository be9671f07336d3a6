#include "sageval/model/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

namespace sageval::model {

std::vector<int64_t> ByteTokenizer::encode(const std::string& text, bool add_bos) const {
  std::vector<int64_t> ids;
  ids.reserve(text.size() + 1);
  if (add_bos) ids.push_back(kBos);
  for (unsigned char c : text) ids.push_back(c);
  return ids;
}

std::string ByteTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  for (int64_t id : ids)
    if (id >= 0 && id < 256) out.push_back(static_cast<char>(id));
  return out;
}

std::unique_ptr<Tokenizer> make_tokenizer(const ModelConfig& config, const std::string& folder) {
  if (config.bos_token_id == ByteTokenizer::kBos && config.eos_token_id == ByteTokenizer::kEos &&
      config.vocab_size >= 258)
    return std::make_unique<ByteTokenizer>();
  const bool has_hf = std::filesystem::exists(folder + "/tokenizer.json");
  throw std::runtime_error(fmt::format(
      "model '{}' is not byte-level (bos {}, eos {}){}: pass pre-tokenized ids with --tokens-file", folder,
      config.bos_token_id ? std::to_string(*config.bos_token_id) : "none",
      config.eos_token_id ? std::to_string(*config.eos_token_id) : "none",
      has_hf ? "; its tokenizer.json (BPE) is not supported yet" : ""));
}

std::vector<int64_t> read_token_ids(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("token-id file '{}' cannot be opened", path));
  std::vector<int64_t> ids;
  std::string word;
  while (in >> word) {
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || v < 0)
      throw std::runtime_error(fmt::format("token-id file '{}': '{}' is not a non-negative integer (word {})", path,
                                           word, ids.size() + 1));
    ids.push_back(v);
  }
  if (ids.empty()) throw std::runtime_error(fmt::format("token-id file '{}' holds no token ids", path));
  return ids;
}

}  // namespace sageval::model
