// Input checks shared by every backend. Each failure throws std::invalid_argument whose message starts with
// the backend's name and names what is wrong (dtype, rank, shape, head dim, device, layout, NaN/Inf).
#pragma once

#include <string>

#include <ATen/ATen.h>

#include "sageval/attention.h"

namespace sageval::detail {

void validate_attention_inputs(const std::string& backend, const BackendCapabilities& caps, const at::Tensor& q,
                               const at::Tensor& k, const at::Tensor& v, const AttentionOptions& options);

std::string describe_shape(const at::Tensor& t);

}  // namespace sageval::detail
