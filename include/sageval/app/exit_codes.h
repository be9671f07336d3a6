// Exit codes of every sageval program: 0 success (or PASS), 1 a verdict of FAIL, 2 bad input or any error,
// 77 nothing measured because no GPU is usable (ctest shows it as Skipped). Apart from options.h, which needs
// libtorch, so that the step runner (src/cli/job_steps.cpp) builds without it.
#pragma once

namespace sageval::app {

constexpr int kExitFail = 1;
constexpr int kExitError = 2;
constexpr int kExitNoGpu = 77;

}  // namespace sageval::app
