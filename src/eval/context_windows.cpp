#include "sageval/eval/context_windows.h"

#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace sageval::eval {

ContextWindows context_windows(const model::Tokenizer& tokenizer, const std::string& text, int64_t length, int64_t count) {
  if (length < 2) throw std::invalid_argument(fmt::format("context windows: length {} is under 2", length));
  if (count < 1 || count * length > static_cast<int64_t>(text.size()))
    throw std::invalid_argument(fmt::format("context windows: {} windows of {} bytes need {} bytes, the text has {}", count,
                                            length, count * length, text.size()));
  const int64_t bos = tokenizer.bos().value_or(0);
  ContextWindows w;
  w.inputs = at::empty({count, length}, at::kLong);
  w.targets = at::empty({count, length}, at::kLong);
  w.score_from = length / 2;
  for (int64_t i = 0; i < count; ++i) {
    std::vector<int64_t> ids = tokenizer.encode(text.substr(static_cast<size_t>(i * length), static_cast<size_t>(length)), false);
    if (static_cast<int64_t>(ids.size()) != length)
      throw std::invalid_argument(fmt::format("context windows: window {} encodes to {} tokens, not {} (a byte-level "
                                              "tokenizer is expected)", i, ids.size(), length));
    std::vector<int64_t> in(1, bos);
    in.insert(in.end(), ids.begin(), ids.end() - 1);
    w.inputs[i].copy_(at::tensor(in, at::kLong));
    w.targets[i].copy_(at::tensor(ids, at::kLong));
  }
  return w;
}

}  // namespace sageval::eval
