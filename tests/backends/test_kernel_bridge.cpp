// The tensor-to-kernel bridge reads only metadata, so its checks run on the CPU: sizes and strides as the
// kernels see them, and misaligned views copied (with the reason) or rejected (naming the tensor and offset).
#include <gtest/gtest.h>

#include "sageval/kernel_bridge.h"
#include "support/test_helpers.h"

namespace sageval::testing {
namespace {

at::Tensor hnd(int64_t b, int64_t h, int64_t n, int64_t d, at::ScalarType dtype = at::kHalf) {
  return at::randn({b, h, n, d}).to(dtype);
}

// [B, H, N, D] view into a [B, N, H*D + 1] buffer at element 1: pointer 2 bytes off, token stride odd.
at::Tensor misaligned_view(int64_t b, int64_t h, int64_t n, int64_t d) {
  at::Tensor buffer = at::randn({b, n, h * d + 1}).to(at::kHalf);
  return buffer.narrow(2, 1, h * d).view({b, n, h, d}).transpose(1, 2);
}

TEST(KernelBridge, FillsSizesStridesAndPointers) {
  const at::Tensor q = hnd(2, 8, 100, 64), k = hnd(2, 2, 300, 64), v = hnd(2, 2, 300, 64);
  const KernelCall call = make_kernel_call(q, k, v, true, 0.125, true);
  EXPECT_EQ(call.problem.batch, 2);
  EXPECT_EQ(call.problem.heads_q, 8);
  EXPECT_EQ(call.problem.heads_kv, 2);
  EXPECT_EQ(call.problem.len_q, 100);
  EXPECT_EQ(call.problem.len_k, 300);
  EXPECT_EQ(call.problem.head_dim, 64);
  EXPECT_TRUE(call.problem.causal);
  EXPECT_FLOAT_EQ(call.problem.sm_scale, 0.125f);
  EXPECT_EQ(call.tensors.q, q.data_ptr());
  EXPECT_EQ(call.tensors.k_strides.token, 64);
  EXPECT_EQ(call.tensors.k_strides.head, 300 * 64);
  EXPECT_TRUE(call.input_copies.empty());
  ASSERT_TRUE(call.lse.defined());
  EXPECT_EQ(call.lse.sizes(), (std::vector<int64_t>{2, 8, 100}));
  EXPECT_EQ(call.tensors.lse, call.lse.data_ptr<float>());
}

TEST(KernelBridge, OutputKeepsTheQueryMemoryOrder) {
  const at::Tensor q_nhd = at::randn({1, 50, 4, 128}).to(at::kBFloat16).transpose(1, 2);  // NHD memory
  const KernelCall call = make_kernel_call(q_nhd, q_nhd, q_nhd, false, 1.0, false);
  EXPECT_EQ(call.out.strides(), q_nhd.strides());
  EXPECT_EQ(call.problem.dtype, kernels::ElementType::kBFloat16);
  EXPECT_FALSE(call.lse.defined());
  EXPECT_EQ(call.tensors.lse, nullptr);
}

TEST(KernelBridge, NamesWhatIsMisaligned) {
  EXPECT_EQ(kernel_misalignment(hnd(1, 2, 10, 64)), "");
  EXPECT_HAS(kernel_misalignment(misaligned_view(1, 2, 10, 64)), "data pointer 2 bytes past a 16-byte boundary");
  // Aligned start, odd token stride.
  at::Tensor buffer = at::zeros({1, 10, 2 * 64 + 1}, at::kHalf);
  at::Tensor odd_stride = buffer.narrow(2, 0, 128).view({1, 10, 2, 64}).transpose(1, 2);
  EXPECT_HAS(kernel_misalignment(odd_stride), "token stride 129 elements (258 bytes)");
  // A size-1 axis is never stepped over, whatever its stride.
  EXPECT_EQ(kernel_misalignment(buffer.narrow(2, 0, 64).narrow(1, 0, 1).view({1, 1, 1, 64})), "");
}

TEST(KernelBridge, CopiesMisalignedInputsAndSaysSo) {
  const at::Tensor q = misaligned_view(1, 2, 10, 64), k = hnd(1, 2, 10, 64);
  const KernelCall call = make_kernel_call(q, k, k, false, 1.0, false);
  ASSERT_EQ(call.input_copies.size(), 1u);
  EXPECT_HAS(call.input_copies[0], "q copied to an aligned buffer: data pointer 2 bytes past");
  EXPECT_NE(call.tensors.q, q.data_ptr());
  EXPECT_EQ(kernel_misalignment(call.q), "");
  EXPECT_TRUE(at::equal(call.q, q));
  EXPECT_EQ(call.tensors.k, k.data_ptr()) << "aligned inputs are used as they are";
}

TEST(KernelBridge, CopiesAContiguousViewAtAnOddOffsetToo) {
  // Contiguous, but one element into its buffer: contiguous() would hand back the same misaligned view.
  const at::Tensor buffer = at::randn({1 + 2 * 10 * 64}).to(at::kHalf);
  const at::Tensor q = buffer.narrow(0, 1, 2 * 10 * 64).view({1, 2, 10, 64});
  ASSERT_TRUE(q.is_contiguous());
  const KernelCall call = make_kernel_call(q, hnd(1, 2, 10, 64), hnd(1, 2, 10, 64), false, 1.0, false);
  ASSERT_EQ(call.input_copies.size(), 1u);
  EXPECT_NE(call.tensors.q, q.data_ptr());
  EXPECT_EQ(kernel_misalignment(call.q), "");
  EXPECT_TRUE(at::equal(call.q, q));
}

TEST(KernelBridge, RejectsShapesTheKernelsWouldReadPastTheEndOf) {
  const at::Tensor q = hnd(1, 4, 10, 64);
  EXPECT_THROW(make_kernel_call(q, hnd(1, 2, 10, 64), hnd(1, 2, 11, 64), false, 1.0, false), std::invalid_argument);
  EXPECT_THROW(make_kernel_call(q, hnd(2, 2, 10, 64), hnd(2, 2, 10, 64), false, 1.0, false), std::invalid_argument);
  EXPECT_THROW(make_kernel_call(q, hnd(1, 3, 10, 64), hnd(1, 3, 10, 64), false, 1.0, false), std::invalid_argument);
  EXPECT_THROW(make_kernel_call(q, hnd(1, 2, 10, 128), hnd(1, 2, 10, 128), false, 1.0, false), std::invalid_argument);
}

TEST(KernelBridge, RejectsMisalignedInputsWhenAsked) {
  const at::Tensor v = misaligned_view(1, 2, 10, 64), k = hnd(1, 2, 10, 64);
  try {
    make_kernel_call(k, k, v, false, 1.0, false, MisalignedInputs::kReject);
    ADD_FAILURE() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_HAS(e.what(), "v is not aligned for the kernels: data pointer 2 bytes past a 16-byte boundary");
  }
}

TEST(KernelBridge, RejectsSizesBeyondTheKernelsIntFields) {
  AttentionShape s;
  s.len_k = int64_t{1} << 31;
  try {
    make_kernel_problem(s, false, 1.0, at::kHalf);
    ADD_FAILURE() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_HAS(e.what(), "key length = 2147483648 does not fit");
  }
  EXPECT_THROW(make_kernel_problem(AttentionShape{}, false, 1.0, at::kFloat), std::invalid_argument);
}

}  // namespace
}  // namespace sageval::testing
