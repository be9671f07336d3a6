// The context-length suite's windows, shared with the precision-plan search so that a plan is found on the data
// the suite judges: `count` disjoint windows of `length` bytes of a text, each BOS + the first length - 1 tokens as
// input and the window's tokens as targets (the next-token of every input position), the last half scored.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/ATen.h>

#include "sageval/model/tokenizer.h"

namespace sageval::eval {

struct ContextWindows {
  at::Tensor inputs, targets;  // int64 [count, length], on the CPU
  int64_t score_from = 0;      // length / 2
};

// Throws std::invalid_argument when the text holds fewer than count * length bytes, or length < 2.
ContextWindows context_windows(const model::Tokenizer& tokenizer, const std::string& text, int64_t length, int64_t count);

}  // namespace sageval::eval
