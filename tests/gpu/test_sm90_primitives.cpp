// The Hopper building blocks (kernels/sm90_primitives.cuh) against the CPU, bit for bit: the INT8 warpgroup
// product is exact in INT32 (|sum| < 2^21 here), so any error in a descriptor, the fragment layout or the
// accumulate flag shows as a mismatch. Skips visibly off compute capability 9.0.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include <ATen/ATen.h>

#include "support/suite_settings.h"

#ifdef SAGEVAL_WITH_CUDA_KERNELS
#include <ATen/cuda/CUDAContext.h>

#include "sageval/kernels/sm90_selftest.h"
#endif

namespace sageval::testing {
namespace {

// Empty on a compute capability 9.0 device with sm_90a code in this build, else why these tests cannot run here.
std::string why_not_sm90() {
  if (std::string why = why_no_cuda_kernels(); !why.empty()) return why;
#ifdef SAGEVAL_WITH_CUDA_KERNELS
  return kernels::sm90_selftests_unavailable();
#else
  return {};  // not reached: a build without the kernels has a reason above
#endif
}

#ifdef SAGEVAL_WITH_CUDA_KERNELS

// The 64 x 128 product from the device equals the CPU's, element for element.
void expect_exact(const at::Tensor& device_result, const at::Tensor& expected) {
  const at::Tensor got = device_result.cpu().to(at::kDouble);
  const int64_t wrong = (got != expected).sum().item<int64_t>();
  EXPECT_EQ(wrong, 0) << wrong << " of " << got.numel() << " elements differ; first row got " << got[0].slice(0, 0, 8)
                      << " expected " << expected[0].slice(0, 0, 8);
}
#endif

class Sm90Wgmma : public ::testing::TestWithParam<int> {};

TEST_P(Sm90Wgmma, Int8ProductsAreExact) {
  if (const std::string why = why_not_sm90(); !why.empty()) GTEST_SKIP() << why;
#ifdef SAGEVAL_WITH_CUDA_KERNELS
  const int k_steps = GetParam();
  at::Generator gen = at::detail::createCPUGenerator(100 + k_steps);
  auto int8 = at::TensorOptions().dtype(at::kChar);
  // Full INT8 range, including -128, which the quantizers never produce but the instruction must take.
  const at::Tensor a = at::randint(-128, 128, {64, 32 * k_steps}, gen, int8);
  const at::Tensor b = at::randint(-128, 128, {128, 32 * k_steps}, gen, int8);
  const at::Tensor a_gpu = a.cuda(), b_gpu = b.cuda();
  at::Tensor d = at::full({64, 128}, -7, at::TensorOptions().dtype(at::kInt).device(at::kCUDA));  // poison
  kernels::sm90_wgmma_s8_selftest(a_gpu.data_ptr<int8_t>(), b_gpu.data_ptr<int8_t>(), d.data_ptr<int32_t>(), k_steps,
                                  at::cuda::getCurrentCUDAStream().stream());
  // float64 holds every product sum exactly (|sum| <= 96 * 128 * 128 < 2^21).
  const at::Tensor expected = at::matmul(a.to(at::kDouble), b.to(at::kDouble).t());
  expect_exact(d, expected);
#endif
}

TEST_P(Sm90Wgmma, Fp16ProductsFromRegistersAreExact) {
  if (const std::string why = why_not_sm90(); !why.empty()) GTEST_SKIP() << why;
#ifdef SAGEVAL_WITH_CUDA_KERNELS
  const int k_steps = GetParam();
  at::Generator gen = at::detail::createCPUGenerator(200 + k_steps);
  // Small integers, so every product and every FP32 partial sum is exact whatever the summation order.
  const at::Tensor a = at::randint(-8, 9, {64, 16 * k_steps}, gen, at::TensorOptions().dtype(at::kFloat)).to(at::kHalf);
  const at::Tensor b = at::randint(-8, 9, {128, 16 * k_steps}, gen, at::TensorOptions().dtype(at::kFloat)).to(at::kHalf);
  const at::Tensor a_gpu = a.cuda(), b_gpu = b.cuda();
  at::Tensor d = at::full({64, 128}, std::nanf(""), at::TensorOptions().dtype(at::kFloat).device(at::kCUDA));
  kernels::sm90_wgmma_f16_rs_selftest(a_gpu.data_ptr(), b_gpu.data_ptr(), d.data_ptr<float>(), k_steps,
                                      at::cuda::getCurrentCUDAStream().stream());
  const at::Tensor expected = at::matmul(a.to(at::kDouble), b.to(at::kDouble).t());
  expect_exact(d, expected);
#endif
}

// A TMA box inside the tensor, and one reaching past its last rows and columns (zero-filled there).
class Sm90Tma : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(Sm90Tma, LoadsTheBoxAndZeroFillsPastTheEdge) {
  if (const std::string why = why_not_sm90(); !why.empty()) GTEST_SKIP() << why;
#ifdef SAGEVAL_WITH_CUDA_KERNELS
  const auto [x, y] = GetParam();
  at::Generator gen = at::detail::createCPUGenerator(300);
  const at::Tensor src = at::randint(-128, 128, {200, 112}, gen, at::TensorOptions().dtype(at::kChar));
  const at::Tensor src_gpu = src.cuda();
  at::Tensor out = at::full({64, 32}, 99, at::TensorOptions().dtype(at::kChar).device(at::kCUDA));  // poison
  kernels::sm90_tma_load_selftest(src_gpu.data_ptr<int8_t>(), 200, 112, x, y, out.data_ptr<int8_t>(),
                                  at::cuda::getCurrentCUDAStream().stream());
  at::Tensor expected = at::zeros({64, 32}, at::kChar);
  const int64_t rows = std::min<int64_t>(64, 200 - y), cols = std::min<int64_t>(32, 112 - x);
  expected.slice(0, 0, rows).slice(1, 0, cols).copy_(src.slice(0, y, y + rows).slice(1, x, x + cols));
  EXPECT_TRUE(at::equal(out.cpu(), expected)) << (out.cpu() != expected).sum().item<int64_t>() << " of 2048 bytes differ";
#endif
}

INSTANTIATE_TEST_SUITE_P(Boxes, Sm90Tma, ::testing::Values(std::pair{32, 64}, std::pair{96, 160}),
                         [](const ::testing::TestParamInfo<std::pair<int, int>>& info) {
                           return "X" + std::to_string(info.param.first) + "_Y" + std::to_string(info.param.second);
                         });

INSTANTIATE_TEST_SUITE_P(KSteps, Sm90Wgmma, ::testing::Values(1, 3),
                         [](const ::testing::TestParamInfo<int>& info) { return "Steps" + std::to_string(info.param); });

}  // namespace
}  // namespace sageval::testing
