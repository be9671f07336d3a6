// sage_int8_attention: validates the problem and runs the sm90 path where it can run (or where it is asked for),
// the sm80 path elsewhere. Host code only.
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "sageval/kernels/attention_kernels.h"
#include "sageval/kernels/cuda_check.h"
#include "sage_int8_paths.h"
#include "sm80_primitives.cuh"

namespace sageval::kernels {
namespace {
SageInt8Path g_path = SageInt8Path::kAuto;
}

const char* sage_int8_path_name(SageInt8Path path) {
  switch (path) {
    case SageInt8Path::kAuto: return "auto";
    case SageInt8Path::kSm80: return "sm80";
    case SageInt8Path::kSm90: return "sm90";
  }
  return "?";
}

SageInt8Path parse_sage_int8_path(const std::string& name) {
  for (SageInt8Path p : {SageInt8Path::kAuto, SageInt8Path::kSm80, SageInt8Path::kSm90})
    if (name == sage_int8_path_name(p)) return p;
  throw std::invalid_argument("unknown sage_int8 kernel path '" + name + "' (expected auto, sm80 or sm90)");
}

void set_sage_int8_path(SageInt8Path path) { g_path = path; }

SageInt8Path sage_int8_path() {
  switch (g_path) {
    case SageInt8Path::kSm80: return SageInt8Path::kSm80;
    case SageInt8Path::kSm90:
      if (const std::string why = sage_int8_sm90_unavailable(); !why.empty())
        throw std::runtime_error("sage_int8: the sm90 path was asked for but " + why);
      return SageInt8Path::kSm90;
    case SageInt8Path::kAuto: break;
  }
  // The answer depends on the device only: ask once per device.
  static std::array<int8_t, 64> known{};  // 0 unknown, 1 sm90, 2 sm80
  int device = 0;
  SAGEVAL_CUDA_CHECK(cudaGetDevice(&device));
  if (device < 0 || device >= static_cast<int>(known.size()))
    return sage_int8_sm90_unavailable().empty() ? SageInt8Path::kSm90 : SageInt8Path::kSm80;
  if (known[device] == 0) known[device] = sage_int8_sm90_unavailable().empty() ? 1 : 2;
  return known[device] == 1 ? SageInt8Path::kSm90 : SageInt8Path::kSm80;
}

void sage_int8_attention(const AttentionProblem& problem, const AttentionTensors& tensors,
                         const SageInt8Workspace& workspace, cudaStream_t stream) {
  sm80::validate_problem(problem, tensors, "sage_int8_attention");
  if (problem.batch == 0 || problem.len_q == 0) return;
  // The sm90 path takes every problem the sm80 path does except a zero-stride V (see sage_int8_sm90_takes).
  if (sage_int8_path() == SageInt8Path::kSm90 && sage_int8_sm90_takes(problem, tensors)) {
    sage_int8_attention_sm90(problem, tensors, workspace, stream);
  } else {
    sage_int8_attention_sm80(problem, tensors, workspace, stream);
  }
}

}  // namespace sageval::kernels
