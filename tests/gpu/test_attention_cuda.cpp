// GPU accuracy suite: the CUDA kernels of the `fp16` and `sage_int8` backends against `math` (with the gates
// of the CPU grid), and against their CPU emulations (identical INT8 quantization, hence identical integer
// Q.K^T; output within FP16 rounding). Every test skips visibly where no CUDA device is usable.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "sageval/attention.h"
#include "sageval/emulation.h"
#include "sageval/quantize.h"
#include "support/accuracy_gates.h"
#include "support/attention_cases.h"
#include "support/plain_attention.h"
#ifdef SAGEVAL_WITH_CUDA_KERNELS
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>

#include "attention_kernels.h"
#endif

namespace sageval::testing {
namespace {

// Empty when the GPU path can run; otherwise why not.
std::string why_no_gpu(const std::string& backend) {
  if (!at::hasCUDA()) return "no CUDA device visible to libtorch (CPU-only libtorch or no GPU/driver)";
  if (!make_backend(backend)->capabilities().cuda)
    return fmt::format("backend '{}' has no CUDA path in this build (kernels not compiled in)", backend);
  return {};
}

#define SAGEVAL_REQUIRE_GPU(backend)                         \
  do {                                                       \
    const std::string why = why_no_gpu(backend);             \
    if (!why.empty()) GTEST_SKIP() << why;                   \
  } while (0)

// Fills the caching allocator's free memory with NaN before a forward call, so that an output element the
// kernel never writes reads back as NaN (the output and workspace are carved from these freed blocks) and
// fails the NaN gate instead of passing on stale values.
void poison_free_device_memory(int64_t bytes) {
  at::Tensor poison = at::full({bytes / 4}, std::numeric_limits<float>::quiet_NaN(),
                               at::TensorOptions().dtype(at::kFloat).device(at::kCUDA));
  poison.reset();
}

int64_t output_bytes(const AttentionCase& c) {
  const AttentionShape s = c.shape();
  return 2 * s.batch * s.heads_q * s.len_q * s.head_dim * 4 + (int64_t{16} << 20);
}

struct GpuRun {
  AttentionInputs in;
  AttentionOutput out, ref;
};

GpuRun run_on_gpu(const AttentionCase& c, const std::string& backend, const std::string& reference) {
  GpuRun r;
  r.in = make_attention_inputs(c.shape(), c.family, c.dtype, c.layout, seed_from_name(c.name()), at::kCUDA);
  poison_free_device_memory(output_bytes(c));
  r.out = make_backend(backend)->forward(r.in.q, r.in.k, r.in.v, c.options());
  r.ref = make_backend(reference)->forward(r.in.q, r.in.k, r.in.v, c.options());
  return r;
}

class SageInt8CudaVsMath : public ::testing::TestWithParam<AttentionCase> {};
class Fp16CudaVsMath : public ::testing::TestWithParam<AttentionCase> {};
class SageInt8CudaVsEmulation : public ::testing::TestWithParam<AttentionCase> {};
class Fp16CudaVsEmulation : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(SageInt8CudaVsMath, Accuracy) {
  SAGEVAL_REQUIRE_GPU("sage_int8");
  const AttentionCase& c = GetParam();
  GpuRun r = run_on_gpu(c, "sage_int8", c.len_k > 8192 ? "math_fp32" : "math");
  AccuracyVerdict v = judge_sage_int8(c, as_hnd(r.out.out, c.layout), as_hnd(r.ref.out, c.layout));
  std::printf("[ figures  ] %s sage_int8(cuda) vs math: %s\n", c.name().c_str(), format_error_stats(v.stats).c_str());
  record_verdict("attention_accuracy_gpu", c.name(), "sage_int8", "math", "cuda", v);
  EXPECT_TRUE(v.pass()) << v.failure_message(c.name());
}

TEST_P(Fp16CudaVsMath, Accuracy) {
  SAGEVAL_REQUIRE_GPU("fp16");
  const AttentionCase& c = GetParam();
  GpuRun r = run_on_gpu(c, "fp16", c.len_k > 8192 ? "math_fp32" : "math");
  const double sm_scale = 1.0 / std::sqrt(static_cast<double>(c.head_dim));
  at::Tensor plain = plain_16bit_attention(as_hnd(r.in.q, c.layout), as_hnd(r.in.k, c.layout),
                                           as_hnd(r.in.v, c.layout), c.causal, sm_scale);
  AccuracyVerdict v = judge_fp16(c, as_hnd(r.out.out, c.layout), as_hnd(r.ref.out, c.layout), plain);
  std::printf("[ figures  ] %s fp16(cuda) vs math: %s\n", c.name().c_str(), format_error_stats(v.stats).c_str());
  record_verdict("attention_accuracy_gpu", c.name(), "fp16", "math", "cuda", v);
  EXPECT_TRUE(v.pass()) << v.failure_message(c.name());
}

template <typename Emulate>
void check_against_emulation(const AttentionCase& c, const std::string& backend, Emulate emulate) {
  GpuRun r;
  r.in = make_attention_inputs(c.shape(), c.family, c.dtype, c.layout, seed_from_name(c.name()), at::kCUDA);
  poison_free_device_memory(output_bytes(c));
  AttentionOutput gpu = make_backend(backend)->forward(r.in.q, r.in.k, r.in.v, c.options());
  const double sm_scale = 1.0 / std::sqrt(static_cast<double>(c.head_dim));
  AttentionOutput cpu = emulate(as_hnd(r.in.q, c.layout).cpu(), as_hnd(r.in.k, c.layout).cpu(),
                                as_hnd(r.in.v, c.layout).cpu(), c.causal, sm_scale, true);
  AccuracyVerdict v = judge_against_emulation(as_hnd(gpu.out, c.layout).cpu(), cpu.out);
  std::printf("[ figures  ] %s %s(cuda) vs emulation: %s\n", c.name().c_str(), backend.c_str(),
              format_error_stats(v.stats).c_str());
  record_verdict("attention_vs_emulation_gpu", c.name(), backend, backend + "_emulation", "cuda", v);
  EXPECT_TRUE(v.pass()) << v.failure_message(c.name());
}

TEST_P(SageInt8CudaVsEmulation, MatchesCpuEmulation) {
  SAGEVAL_REQUIRE_GPU("sage_int8");
  check_against_emulation(GetParam(), "sage_int8",
                          [](auto&&... a) { return emulate_sage_int8_attention(a...); });
}

TEST_P(Fp16CudaVsEmulation, MatchesCpuEmulation) {
  SAGEVAL_REQUIRE_GPU("fp16");
  check_against_emulation(GetParam(), "fp16", [](auto&&... a) { return emulate_fp16_attention(a...); });
}

std::string case_name(const ::testing::TestParamInfo<AttentionCase>& info) { return info.param.name(); }

INSTANTIATE_TEST_SUITE_P(Shapes, SageInt8CudaVsMath, ::testing::ValuesIn(shape_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Inputs, SageInt8CudaVsMath, ::testing::ValuesIn(input_family_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Long, SageInt8CudaVsMath, ::testing::ValuesIn(long_sequence_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Shapes, Fp16CudaVsMath, ::testing::ValuesIn(shape_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Inputs, Fp16CudaVsMath, ::testing::ValuesIn(input_family_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Long, Fp16CudaVsMath, ::testing::ValuesIn(long_sequence_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Shapes, SageInt8CudaVsEmulation, ::testing::ValuesIn(shape_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Inputs, SageInt8CudaVsEmulation, ::testing::ValuesIn(input_family_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Shapes, Fp16CudaVsEmulation, ::testing::ValuesIn(shape_cases()), case_name);

// The INT8 values and scales of the CUDA quantizer equal the CPU quantizer's byte for byte, so the integer
// Q.K^T of kernel and emulation are identical.
class SageInt8CudaQuantization : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(SageInt8CudaQuantization, IdenticalToCpu) {
  SAGEVAL_REQUIRE_GPU("sage_int8");
#ifndef SAGEVAL_WITH_CUDA_KERNELS
  GTEST_SKIP() << "kernels not compiled in";
#else
  const AttentionCase& c = GetParam();
  auto in = make_attention_inputs(c.shape(), c.family, c.dtype, Layout::HND, seed_from_name(c.name()), at::kCUDA);
  kernels::AttentionProblem p;
  p.batch = static_cast<int>(c.batch);
  p.heads_q = static_cast<int>(c.shape().heads_q);
  p.heads_kv = static_cast<int>(c.heads_kv);
  p.len_q = static_cast<int>(c.len_q);
  p.len_k = static_cast<int>(c.len_k);
  p.head_dim = c.head_dim;
  p.sm_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim)));
  p.dtype = c.dtype == at::kBFloat16 ? kernels::ElementType::kBFloat16 : kernels::ElementType::kFloat16;
  const auto layout = kernels::sage_int8_workspace_layout(p);
  at::Tensor ws = at::empty({layout.total_bytes}, in.q.options().dtype(at::kByte));
  auto w = kernels::sage_int8_workspace_at(ws.data_ptr(), layout);
  kernels::AttentionTensors t;
  t.q = in.q.data_ptr();
  t.k = in.k.data_ptr();
  t.v = in.v.data_ptr();
  t.q_strides = {in.q.stride(0), in.q.stride(1), in.q.stride(2)};
  t.k_strides = {in.k.stride(0), in.k.stride(1), in.k.stride(2)};
  t.v_strides = {in.v.stride(0), in.v.stride(1), in.v.stride(2)};
  kernels::sage_int8_quantize(p, t, w, at::cuda::getCurrentCUDAStream().stream());
  SageInt8QK cpu = quantize_sage_int8_qk(in.q.cpu(), in.k.cpu(), p.sm_scale, true);
  auto view = [&](int64_t offset, at::ScalarType dtype, at::IntArrayRef sizes) {
    return ws.slice(0, offset).view(dtype).slice(0, 0, c10::multiply_integers(sizes)).view(sizes).cpu();
  };
  const int64_t hq = c.shape().heads_q;
  at::Tensor q8 = view(layout.q_int8, at::kChar, {c.batch, hq, layout.len_q_padded, c.head_dim}).slice(2, 0, c.len_q);
  at::Tensor k8 = view(layout.k_int8, at::kChar, {c.batch, c.heads_kv, layout.len_k_padded, c.head_dim}).slice(2, 0, c.len_k);
  at::Tensor qs = view(layout.q_scale, at::kFloat, {c.batch, hq, layout.q_blocks});
  at::Tensor ks = view(layout.k_scale, at::kFloat, {c.batch, c.heads_kv, layout.k_blocks});
  at::Tensor km = view(layout.k_mean, at::kFloat, {c.batch, c.heads_kv, c.head_dim});
  EXPECT_TRUE(at::equal(km, cpu.k_mean)) << "K mean differs";
  EXPECT_TRUE(at::equal(qs, cpu.q.scales)) << "Q scales differ";
  EXPECT_TRUE(at::equal(ks, cpu.k.scales)) << "K scales differ";
  EXPECT_TRUE(at::equal(q8, cpu.q.values)) << "Q int8 differs in " << (q8 != cpu.q.values).sum().item<int64_t>();
  EXPECT_TRUE(at::equal(k8, cpu.k.values)) << "K int8 differs in " << (k8 != cpu.k.values).sum().item<int64_t>();
#endif
}

INSTANTIATE_TEST_SUITE_P(Inputs, SageInt8CudaQuantization, ::testing::ValuesIn(input_family_cases()), case_name);

}  // namespace
}  // namespace sageval::testing

namespace sageval::testing {
namespace {

// Special inputs on the GPU, for both kernels.
class CudaSpecialInputs : public ::testing::TestWithParam<const char*> {
 protected:
  AttentionInputs gaussian(int64_t n, uint64_t seed) {
    AttentionShape s;
    s.batch = 2;
    s.heads_q = 8;
    s.heads_kv = 2;
    s.len_q = s.len_k = n;
    s.head_dim = 128;
    return make_attention_inputs(s, InputFamily::Gaussian, at::kHalf, Layout::HND, seed, at::kCUDA);
  }
};

TEST_P(CudaSpecialInputs, ConstantVGivesV) {
  SAGEVAL_REQUIRE_GPU(GetParam());
  AttentionInputs in = gaussian(1000, 21);
  in.v.fill_(2.71875);
  poison_free_device_memory(int64_t{64} << 20);
  at::Tensor out = make_backend(GetParam())->forward(in.q, in.k, in.v).out.to(at::kDouble);
  EXPECT_LT((out - 2.71875).abs().max().item<double>(), 2e-3) << "row sum and numerator disagree";
}

TEST_P(CudaSpecialInputs, ZeroVChannelStaysZero) {
  SAGEVAL_REQUIRE_GPU(GetParam());
  AttentionInputs in = gaussian(777, 22);
  in.v.select(3, 5).zero_();
  poison_free_device_memory(int64_t{64} << 20);
  at::Tensor out = make_backend(GetParam())->forward(in.q, in.k, in.v).out;
  EXPECT_TRUE(at::isfinite(out).all().item<bool>());
  EXPECT_EQ(out.select(3, 5).abs().max().item<double>(), 0.0);
}

TEST_P(CudaSpecialInputs, PeakedAndFlatSoftmaxRows) {
  SAGEVAL_REQUIRE_GPU(GetParam());
  for (double q_scale : {0.01, 6.0}) {  // near-uniform rows; near one-hot rows (scores spread ~ 6 * sqrt(128) / sqrt(128))
    AttentionInputs in = gaussian(1000, 23);
    in.q.mul_(q_scale);
    at::Tensor out = make_backend(GetParam())->forward(in.q, in.k, in.v).out;
    at::Tensor ref = make_backend("math")->forward(in.q, in.k, in.v).out;
    const ErrorStats s = compare_tensors(out, ref);
    std::printf("[ figures  ] %s q*%g: %s\n", GetParam(), q_scale, format_error_stats(s).c_str());
    EXPECT_EQ(s.nan_count + s.inf_count, 0);
    EXPECT_GE(s.cosine, 0.999) << format_error_stats(s);
    EXPECT_LE(s.rel_l1, 0.05) << format_error_stats(s);
  }
}

// K and V with more than 2^31 elements each: every offset must be 64-bit.
TEST_P(CudaSpecialInputs, TensorsBeyondTwoToThe31Elements) {
  SAGEVAL_REQUIRE_GPU(GetParam());
  const int64_t heads = 8, d = 128, len_k = (int64_t{1} << 21) + 100, len_q = 64;
  size_t free_bytes = 0, total = 0;
#ifdef SAGEVAL_WITH_CUDA_KERNELS
  c10::cuda::CUDACachingAllocator::emptyCache();  // earlier cases' cached blocks count as used
  cudaMemGetInfo(&free_bytes, &total);
#endif
  if (free_bytes < (size_t{40} << 30)) GTEST_SKIP() << "needs 40 GiB free device memory, has " << (free_bytes >> 30);
  auto opts = at::TensorOptions().dtype(at::kHalf).device(at::kCUDA);
  at::Tensor k = at::randn({1, heads, len_k, d}, opts);
  at::Tensor v = at::randn({1, heads, len_k, d}, opts);
  ASSERT_GT(k.numel(), int64_t{1} << 31);
  // Make the last keys matter: the queries match them strongly, so a wrapped offset would change the output.
  at::Tensor q = k.slice(2, len_k - len_q, len_k).clone().mul_(0.5);
  AttentionOptions o;
  o.causal = true;
  at::Tensor out = make_backend(GetParam())->forward(q, k, v, o).out;
  at::Tensor ref = make_backend("math_fp32")->forward(q, k, v, o).out;
  const ErrorStats s = compare_tensors(out, ref);
  std::printf("[ figures  ] %s Nk=%lld: %s\n", GetParam(), static_cast<long long>(len_k), format_error_stats(s).c_str());
  EXPECT_EQ(s.nan_count + s.inf_count, 0);
  EXPECT_GE(s.cosine, 0.999) << format_error_stats(s);
}

INSTANTIATE_TEST_SUITE_P(Kernels, CudaSpecialInputs, ::testing::Values("fp16", "sage_int8"),
                         [](const ::testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

}  // namespace
}  // namespace sageval::testing
