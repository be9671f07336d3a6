// The context-length suite's windows and gates, shared with the precision-plan search so that a plan is found on
// the data the suite judges and by its gates: `count` disjoint windows of `length` bytes of a text, each BOS + the
// first length - 1 tokens as input and the window's tokens as targets (the next-token of every input position),
// the last half scored.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/ATen.h>

#include "sageval/eval/token_stats.h"
#include "sageval/model/tokenizer.h"
#include "sageval/record.h"

namespace sageval::eval {

struct ContextWindows {
  at::Tensor inputs, targets;  // int64 [count, length], on the CPU
  int64_t score_from = 0;      // length / 2
};

// Throws std::invalid_argument when the text holds fewer than count * length bytes, or length < 2.
ContextWindows context_windows(const model::Tokenizer& tokenizer, const std::string& text, int64_t length, int64_t count);

// The gates of a candidate-vs-baseline summary (data/thresholds.json, /model/context_length):
// |nll_cand / nll_base - 1| <= max_nll_ratio_deviation, and top-1 agreement + top1_agreement_z standard errors >=
// min_top1_agreement (agreement is a proportion over a finite sample). The second gate's measured value is that
// upper bound.
std::vector<Gate> context_length_gates(const TokenStatsSummary& summary);

}  // namespace sageval::eval
