// GPU-only checks of the CUDA kernels, beside the accuracy grid (backends/test_attention_accuracy.cpp, linked
// into the same executable): the INT8 quantizer byte for byte against the CPU one, special inputs, and views
// the kernels cannot read as they are (misaligned pointers and strides). Every test skips visibly where no
// CUDA device is usable.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "sageval/attention.h"
#include "sageval/eval/attention_harness.h"
#include "sageval/kernel_bridge.h"
#include "sageval/quantize.h"
#include "sageval/thresholds.h"
#include "support/suite_settings.h"
#ifdef SAGEVAL_WITH_CUDA_KERNELS
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>

#include "sageval/kernels/cuda_check.h"
#endif

namespace sageval::testing {
namespace {

using eval::AttentionCase;

#define SAGEVAL_REQUIRE_GPU(backend)             \
  do {                                           \
    const std::string why = why_no_cuda_path(backend); \
    if (!why.empty()) GTEST_SKIP() << why;       \
  } while (0)

// No sticky CUDA error is pending (a misaligned access would leave one that poisons every later call).
bool no_cuda_error() {
#ifdef SAGEVAL_WITH_CUDA_KERNELS
  return cudaGetLastError() == cudaSuccess;
#else
  return true;
#endif
}

void poison_free_device_memory(int64_t bytes) {
  at::Tensor poison = at::full({bytes / 4}, std::numeric_limits<float>::quiet_NaN(),
                               at::TensorOptions().dtype(at::kFloat).device(at::kCUDA));
  poison.reset();
}

std::string case_name(const ::testing::TestParamInfo<AttentionCase>& info) { return info.param.name(); }

// The INT8 values and scales of the CUDA quantizer equal the CPU quantizer's byte for byte, so the integer
// Q.K^T of kernel and emulation are identical; for both Q granularities.
class SageInt8CudaQuantization : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(SageInt8CudaQuantization, IdenticalToCpu) {
  SAGEVAL_REQUIRE_GPU("sage_int8");
#ifdef SAGEVAL_WITH_CUDA_KERNELS
  const AttentionCase& c = GetParam();
  auto in = make_attention_inputs(c.shape(), c.family, c.dtype, Layout::HND, seed_from_name(c.name()), at::kCUDA);
  const double sm_scale = 1.0 / std::sqrt(static_cast<double>(c.head_dim));
  const KernelCall call = make_kernel_call(in.q, in.k, in.v, false, sm_scale, false);
  for (const numerics::QGranularity granularity : {numerics::QGranularity::kPerBlock, numerics::QGranularity::kPerWarp}) {
    const int rows = numerics::q_scale_rows(granularity);
    SCOPED_TRACE(::testing::Message() << "Q scale per " << rows << " rows");
    const SageInt8Buffers ws = allocate_sage_int8_workspace(call.problem, in.q.device());
    kernels::sage_int8_quantize(call.problem, call.tensors, ws.views, at::cuda::getCurrentCUDAStream().stream(),
                                granularity);
    SageInt8QK cpu = quantize_sage_int8_qk(in.q.cpu(), in.k.cpu(), call.problem.sm_scale, true, false, granularity);
    const auto& layout = ws.layout;
    auto view = [&](int64_t offset, at::ScalarType dtype, at::IntArrayRef sizes) {
      return ws.bytes.slice(0, offset).view(dtype).slice(0, 0, c10::multiply_integers(sizes)).view(sizes).cpu();
    };
    const int64_t hq = c.shape().heads_q;
    const int64_t groups = (c.len_q + numerics::kQWarpRows - 1) / numerics::kQWarpRows;  // 16-row groups with a row
    at::Tensor q8 = view(layout.q_int8, at::kChar, {c.batch, hq, layout.len_q_padded, c.head_dim}).slice(2, 0, c.len_q);
    at::Tensor k8 = view(layout.k_int8, at::kChar, {c.batch, c.heads_kv, layout.len_k_padded, c.head_dim}).slice(2, 0, c.len_k);
    at::Tensor qs = view(layout.q_scale, at::kFloat, {c.batch, hq, layout.len_q_padded / numerics::kQWarpRows})
                        .slice(2, 0, groups);
    at::Tensor ks = view(layout.k_scale, at::kFloat, {c.batch, c.heads_kv, layout.k_blocks});
    at::Tensor km = view(layout.k_mean, at::kFloat, {c.batch, c.heads_kv, c.head_dim});
    const at::Tensor cpu_qs = cpu.q.scales.repeat_interleave(rows / numerics::kQWarpRows, 2).slice(2, 0, groups);
    EXPECT_TRUE(at::equal(km, cpu.k_mean)) << "K mean differs";
    EXPECT_TRUE(at::equal(qs, cpu_qs)) << "Q scales differ";
    EXPECT_TRUE(at::equal(ks, cpu.k.scales)) << "K scales differ";
    EXPECT_TRUE(at::equal(q8, cpu.q.values)) << "Q int8 differs in " << (q8 != cpu.q.values).sum().item<int64_t>();
    EXPECT_TRUE(at::equal(k8, cpu.k.values)) << "K int8 differs in " << (k8 != cpu.k.values).sum().item<int64_t>();
  }
#endif
}

INSTANTIATE_TEST_SUITE_P(Inputs, SageInt8CudaQuantization, ::testing::ValuesIn(eval::input_family_cases()), case_name);

// Views the kernels cannot read as they are: the data pointer one element past a 16-byte boundary and an odd
// token stride, as `x[..., 1:]` of a wider fused buffer gives. The backends must copy them (and say so) and
// compute the right answer, or reject them when asked to, never raise a CUDA error.
class CudaMisalignedViews : public ::testing::TestWithParam<const char*> {
 protected:
  // [B, H, N, D] HND views into a [B, N, H*D + 1] buffer, starting at element 1: pointer off by 2 bytes, token
  // stride H*D + 1 elements (odd).
  static at::Tensor misaligned(const at::Tensor& hnd) {
    const int64_t b = hnd.size(0), h = hnd.size(1), n = hnd.size(2), d = hnd.size(3);
    at::Tensor buffer = at::zeros({b, n, h * d + 1}, hnd.options());
    at::Tensor view = buffer.narrow(2, 1, h * d).view({b, n, h, d}).transpose(1, 2);
    view.copy_(hnd);
    return view;
  }
};

TEST_P(CudaMisalignedViews, AreCopiedAndComputedCorrectly) {
  SAGEVAL_REQUIRE_GPU(GetParam());
  AttentionCase c;
  c.head_dim = 128;
  c.len_q = c.len_k = 333;
  c.gqa = 2;
  c.family = InputFamily::Gaussian;
  const AttentionInputs in = make_attention_inputs(c.shape(), c.family, c.dtype, Layout::HND, 31, at::kCUDA);
  const at::Tensor q = misaligned(in.q), k = misaligned(in.k), v = misaligned(in.v);
  ASSERT_FALSE(kernel_misalignment(q).empty());
  const AttentionOutput out = make_backend(GetParam())->forward(q, k, v, c.options());
  ASSERT_TRUE(no_cuda_error());
  EXPECT_EQ(out.input_copies.size(), 3u) << "each misaligned input is copied, and the copy is reported";
  // The same attention from the aligned originals: the copy must not change the result by a bit.
  const AttentionOutput aligned = make_backend(GetParam())->forward(in.q, in.k, in.v, c.options());
  EXPECT_TRUE(aligned.input_copies.empty());
  EXPECT_TRUE(at::equal(out.out, aligned.out));
  EXPECT_TRUE(at::equal(out.lse, aligned.lse));
  const eval::CaseResult r = eval::judge_attention(c, GetParam(), eval::Reference::kMath, out,
                                                   make_backend("math")->forward(q, k, v, c.options()),
                                                   eval::plain_16bit_attention(q, k, v, false, 1.0 / std::sqrt(128.0)));
  EXPECT_TRUE(r.pass()) << r.failure_message();
}

TEST_P(CudaMisalignedViews, AreRejectedWhenCopiesAreRefused) {
  SAGEVAL_REQUIRE_GPU(GetParam());
  AttentionShape s;
  s.heads_q = s.heads_kv = 2;
  s.len_q = s.len_k = 64;
  s.head_dim = 64;
  const AttentionInputs in = make_attention_inputs(s, InputFamily::Gaussian, at::kHalf, Layout::HND, 32, at::kCUDA);
  AttentionOptions o;
  o.copy_misaligned = false;
  try {
    make_backend(GetParam())->forward(in.q, misaligned(in.k), in.v, o);
    ADD_FAILURE() << "a misaligned k was accepted with copy_misaligned = false";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("k is not aligned"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("2 bytes past a 16-byte boundary"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(no_cuda_error());
  // The process is still healthy: a plain call works.
  EXPECT_TRUE(at::isfinite(make_backend(GetParam())->forward(in.q, in.k, in.v).out).all().item<bool>());
}

INSTANTIATE_TEST_SUITE_P(Kernels, CudaMisalignedViews, ::testing::Values("fp16", "sage_int8"),
                         [](const ::testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

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

namespace sageval::testing {
namespace {

// The split-KV decode kernel: taken for short queries against long caches (the kernel says so through its
// workspace size), close to the prefill kernel on the same inputs (cosine and LSE within the kernel-vs-emulation
// bounds) and as accurate against float32 math; the chunk boundaries fall inside 64-key tiles' reach of the
// causal diagonal when Nq > 1.
struct DecodeCase {
  int head_dim;
  int64_t len_q, len_k;
  int gqa;
  bool causal;
  at::ScalarType dtype;
  int64_t batch = 2;  // 2: several CTAs per kv head, merged by the merge kernel; 64+: one CTA per kv head
  std::string name() const {
    return fmt::format("D{}_Q{}_K{}_GQA{}{}_{}_B{}", head_dim, len_q, len_k, gqa, causal ? "_Causal" : "",
                       dtype == at::kBFloat16 ? "Bf16" : "Fp16", batch);
  }
};

class Fp16DecodeKernel : public ::testing::TestWithParam<DecodeCase> {};

TEST_P(Fp16DecodeKernel, AgreesWithThePrefillKernel) {
  SAGEVAL_REQUIRE_GPU("fp16");
#ifdef SAGEVAL_WITH_CUDA_KERNELS
  const DecodeCase& c = GetParam();
  AttentionShape s;
  s.batch = c.batch;
  s.heads_kv = 4;
  s.heads_q = 4 * c.gqa;
  s.len_q = c.len_q;
  s.len_k = c.len_k;
  s.head_dim = c.head_dim;
  // NHD memory, as the model runner's cache, seen as HND views by the bridge.
  const AttentionInputs in = make_attention_inputs(s, InputFamily::Gaussian, c.dtype, Layout::NHD, 41, at::kCUDA);
  const at::Tensor q = in.q.transpose(1, 2), k = in.k.transpose(1, 2), v = in.v.transpose(1, 2);
  const double sm_scale = 1.0 / std::sqrt(static_cast<double>(c.head_dim));
  KernelCall decode = make_kernel_call(q, k, v, c.causal, sm_scale, true);
  KernelCall prefill = make_kernel_call(q, k, v, c.causal, sm_scale, true);
  const int64_t bytes = kernels::attention_fp16_decode_workspace_bytes(decode.problem);
  int max_smem = 0;
  SAGEVAL_CUDA_CHECK(cudaDeviceGetAttribute(&max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, in.q.get_device()));
  const int kernel_smem = kernels::attention_fp16_decode_smem_bytes(c.head_dim);
  if (kernel_smem > max_smem)
    GTEST_SKIP() << "the split-KV kernel needs " << kernel_smem << " bytes of shared memory, this device allows "
                 << max_smem << " per block: the fp16 backend runs the prefill kernel here";
  ASSERT_GT(bytes, 0) << "not taken as a decode problem";
  // A workspace as an allocator may leave it (every byte 0xff): the kernels read only what they wrote. A second
  // call on the workspace the first left behind gives the same bits.
  const at::Tensor workspace = at::full({bytes}, 0xff, q.options().dtype(at::kByte));
  cudaStream_t stream = at::cuda::getCurrentCUDAStream().stream();
  kernels::attention_fp16_decode(decode.problem, decode.tensors, workspace.data_ptr(), stream);
  const at::Tensor first_out = decode.out.clone(), first_lse = decode.lse.clone();
  kernels::attention_fp16_decode(decode.problem, decode.tensors, workspace.data_ptr(), stream);
  EXPECT_TRUE(at::equal(first_out, decode.out)) << "a second call on the same workspace differs";
  EXPECT_TRUE(at::equal(first_lse, decode.lse)) << "a second call on the same workspace differs (LSE)";
  kernels::attention_fp16_forward(prefill.problem, prefill.tensors, stream);
  const ErrorStats out = compare_tensors(decode.out, prefill.out);
  const Thresholds& t = Thresholds::defaults();
  EXPECT_EQ(out.nan_count + out.inf_count, 0);
  EXPECT_GE(out.cosine, t.number("/attention/kernel_vs_emulation/min_cosine")) << format_error_stats(out);
  // The two kernels round P relative to different maxima (the warp's running one, the row's), so they differ
  // from each other about as much as each from the exact result: judged against float32 math, the decode
  // kernel is as accurate as the prefill kernel (bf16 at 200K keys: 0.0021 apart, H200 2026-11-29).
  AttentionOptions exact_options;
  exact_options.layout = Layout::NHD;
  exact_options.causal = c.causal;
  const at::Tensor exact = make_backend("math_fp32")->forward(in.q, in.k, in.v, exact_options).out.transpose(1, 2);
  const ErrorStats d = compare_tensors(decode.out, exact), pf = compare_tensors(prefill.out, exact);
  EXPECT_LE(d.rel_l1, 1.25 * pf.rel_l1) << "decode " << format_error_stats(d) << "\nprefill " << format_error_stats(pf);
  const double eps = c.dtype == at::kBFloat16 ? 0x1p-7 : 0x1p-10;
  const double lse_error = (decode.lse - prefill.lse).abs().max().item<double>();
  EXPECT_LE(lse_error, t.number("/attention/kernel_vs_emulation/max_lse_abs_error_eps") * eps);
#endif
}

TEST(Fp16DecodeKernel, TakesAtMost16QueryRowsPerKvHead) {
  if (const std::string why = why_no_cuda_kernels(); !why.empty()) GTEST_SKIP() << why;
#ifdef SAGEVAL_WITH_CUDA_KERNELS
  SAGEVAL_REQUIRE_GPU("fp16");
  kernels::AttentionProblem p;
  p.batch = 1;
  p.heads_q = 32;
  p.heads_kv = 8;
  p.head_dim = 64;
  p.len_q = 5;  // 5 tokens x 4 query heads per kv head = 20 rows > 16
  p.len_k = 4096;
  EXPECT_EQ(kernels::attention_fp16_decode_workspace_bytes(p), 0);
  p.len_q = 4;
  p.len_k = 3;  // any length: which calls take it is kernels::is_decode_call's choice (tests/backends)
  EXPECT_GT(kernels::attention_fp16_decode_workspace_bytes(p), 0);
#endif
}

// kv_lengths on CUDA (the static cache of a graph-captured decode step): each batch row as the same backend on
// its slice of keys, within the kernel-vs-emulation bounds (the slice may take another kernel: the prefill
// kernel for 1 key); a row with no key gives 0. With 2 kv heads a head's keys are split over several CTAs and
// merged; with 32 (128 heads for batch 4) each head has one CTA, which writes the output itself.
struct KvLengthsCase {
  const char* backend;
  int64_t heads_q, heads_kv;
  std::string name() const { return fmt::format("{}_Hq{}_Hkv{}", backend, heads_q, heads_kv); }
};

class KvLengthsOnCuda : public ::testing::TestWithParam<KvLengthsCase> {};

TEST_P(KvLengthsOnCuda, EachRowAsItsSliceOfKeys) {
  const KvLengthsCase& c = GetParam();
  SAGEVAL_REQUIRE_GPU(c.backend);
  auto backend = make_backend(c.backend);
  const AttentionInputs in = make_attention_inputs({4, c.heads_q, c.heads_kv, 1, 1000, 128}, InputFamily::Gaussian,
                                                   at::kHalf, Layout::NHD, 17, at::kCUDA);
  const int64_t used[4] = {1000, 517, 1, 0};
  AttentionOptions o;
  o.layout = Layout::NHD;
  o.causal = true;
  o.kv_lengths = at::tensor(std::vector<int32_t>{1000, 517, 1, 0}, at::TensorOptions().dtype(at::kInt)).to(at::kCUDA);
  const at::Tensor all = backend->forward(in.q, in.k, in.v, o).out;
  o.kv_lengths = at::Tensor();
  const Thresholds& t = Thresholds::defaults();
  for (int64_t b = 0; b < 3; ++b) {
    auto row = [&](const at::Tensor& x) { return x.slice(0, b, b + 1); };
    const at::Tensor one = backend->forward(row(in.q), row(in.k).slice(1, 0, used[b]), row(in.v).slice(1, 0, used[b]), o).out;
    const ErrorStats e = compare_tensors(row(all), one);
    EXPECT_EQ(e.nan_count + e.inf_count, 0) << "row " << b;
    EXPECT_LE(e.rel_l1, t.number("/attention/kernel_vs_emulation/max_rel_l1")) << "row " << b << ": " << format_error_stats(e);
  }
  EXPECT_EQ(all.slice(0, 3, 4).abs().max().item<double>(), 0.0);
}

INSTANTIATE_TEST_SUITE_P(Backends, KvLengthsOnCuda,
                         ::testing::Values(KvLengthsCase{"fp16", 8, 2}, KvLengthsCase{"sage_int8", 8, 2},
                                           KvLengthsCase{"fp16", 64, 32}, KvLengthsCase{"sage_int8", 64, 32}),
                         [](const ::testing::TestParamInfo<KvLengthsCase>& info) { return info.param.name(); });

TEST(KvLengthsOnCuda, RefusedByTheBackendsThatCannotReadThemOnTheDevice) {
  SAGEVAL_REQUIRE_GPU("math");
  const AttentionInputs in =
      make_attention_inputs({2, 2, 2, 1, 64, 64}, InputFamily::Gaussian, at::kHalf, Layout::HND, 3, at::kCUDA);
  AttentionOptions o;
  o.kv_lengths = at::full({2}, 10, at::TensorOptions().dtype(at::kInt).device(at::kCUDA));
  for (const char* refuses : {"math", "sdpa"})
    if (has_backend(refuses)) EXPECT_THROW(make_backend(refuses)->forward(in.q, in.k, in.v, o), UnsupportedInput) << refuses;
  // fp16 and sage_int8 take it with the decode kernel only: 5 query tokens x 4 query heads per kv head = 20 rows
  // is no decode call (sage_int8 must not run its INT8 kernels over every key instead).
  const AttentionInputs wide =
      make_attention_inputs({2, 4, 1, 5, 64, 64}, InputFamily::Gaussian, at::kHalf, Layout::HND, 3, at::kCUDA);
  for (const char* decode_kernel_only : {"fp16", "sage_int8"})
    EXPECT_THROW(make_backend(decode_kernel_only)->forward(wide.q, wide.k, wide.v, o), UnsupportedInput) << decode_kernel_only;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Fp16DecodeKernel,
    ::testing::Values(DecodeCase{128, 1, 4096, 4, false, at::kHalf}, DecodeCase{128, 1, 4096, 4, true, at::kBFloat16},
                      DecodeCase{64, 1, 1000, 8, true, at::kHalf}, DecodeCase{128, 4, 1000, 4, true, at::kHalf},
                      DecodeCase{64, 16, 777, 1, true, at::kBFloat16}, DecodeCase{128, 2, 32768, 2, true, at::kHalf},
                      // a last chunk of a part tile and idle warps in a CTA; chunks of several tiles
                      DecodeCase{128, 1, 300, 4, true, at::kHalf}, DecodeCase{64, 3, 200000, 4, false, at::kBFloat16},
                      // one CTA per kv head (no merge across CTAs): 256 and 384 kv heads
                      DecodeCase{128, 1, 2048, 4, true, at::kHalf, 64}, DecodeCase{64, 2, 500, 2, false, at::kBFloat16, 96}),
    [](const ::testing::TestParamInfo<DecodeCase>& info) { return info.param.name(); });

}  // namespace
}  // namespace sageval::testing
