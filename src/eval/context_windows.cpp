#include "sageval/eval/context_windows.h"

#include <stdexcept>
#include <vector>

#include <cmath>

#include <fmt/format.h>

#include "sageval/thresholds.h"

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

std::vector<Gate> context_length_gates(const TokenStatsSummary& s) {
  const Thresholds& t = Thresholds::defaults();
  const double agree_z = t.number("/model/context_length/top1_agreement_z");
  return {Gate::at_most("/model/context_length/max_nll_ratio_deviation: |nll_cand / nll_base - 1|",
                        std::abs(s.nll_cand_mean / s.nll_base_mean - 1.0),
                        t.number("/model/context_length/max_nll_ratio_deviation")),
          Gate::at_least(fmt::format("/model/context_length/min_top1_agreement: top-1 agreement + {} SE (top1_agreement_z)",
                                     agree_z),
                         s.same_top1 + agree_z * s.same_top1_unc, t.number("/model/context_length/min_top1_agreement"))};
}

}  // namespace sageval::eval
