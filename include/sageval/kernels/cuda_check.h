// Error checking for every CUDA runtime call and kernel launch in kernels/.
//
// SAGEVAL_CUDA_CHECK(expr) evaluates a cudaError_t expression and throws std::runtime_error carrying the CUDA
// error name and string, the failing expression and the file:line of the call site.
// SAGEVAL_CUDA_CHECK_LAUNCH() is placed right after a <<<...>>> launch: it reads cudaGetLastError() (launch
// configuration errors such as too much shared memory surface there, not at the launch).
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace sageval::kernels::detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* what, const char* file, int line) {
  std::string msg = "CUDA error ";
  msg += cudaGetErrorName(err);
  msg += " (";
  msg += cudaGetErrorString(err);
  msg += ") at ";
  msg += file;
  msg += ":";
  msg += std::to_string(line);
  msg += " in `";
  msg += what;
  msg += "`";
  throw std::runtime_error(msg);
}

inline void check_cuda(cudaError_t err, const char* what, const char* file, int line) {
  if (err != cudaSuccess) throw_cuda_error(err, what, file, line);
}

}  // namespace sageval::kernels::detail

#define SAGEVAL_CUDA_CHECK(expr) ::sageval::kernels::detail::check_cuda((expr), #expr, __FILE__, __LINE__)
#define SAGEVAL_CUDA_CHECK_LAUNCH() \
  ::sageval::kernels::detail::check_cuda(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
