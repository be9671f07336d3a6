// The one check every GPU test skips on (suite_settings.h), in a file of its own: executables that use nothing
// else of the suite settings (the perf tests) link it without the rest.
#include <ATen/ATen.h>
#include <fmt/format.h>

#include "sageval/attention.h"
#include "support/suite_settings.h"

namespace sageval::testing {

std::string why_no_cuda_path(const std::string& backend) {
  if (!at::hasCUDA()) return "no CUDA device visible to libtorch (CPU-only libtorch, or no GPU or driver)";
  if (!has_backend(backend)) return fmt::format("backend '{}' is not in this build", backend);
  if (!make_backend(backend)->capabilities().cuda)
    return fmt::format("backend '{}' has no CUDA path in this build (kernels not compiled in)", backend);
  return "";
}

std::string why_no_cuda_kernels() {
#ifndef SAGEVAL_WITH_CUDA_KERNELS
  return "this build has no CUDA kernels (libtorch without CUDA)";
#else
  if (!at::hasCUDA()) return "no CUDA device visible to libtorch (CPU-only libtorch, or no GPU or driver)";
  return "";
#endif
}

}  // namespace sageval::testing
