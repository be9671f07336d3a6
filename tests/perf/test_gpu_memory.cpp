// GPU memory behaviour of the attention backends and the model runner (labels gpu, perf): no growth across
// 100 repeated calls, and running out of memory is a clear, sized skip rather than a crash. The peak-memory
// figures themselves come from sageval_model_bench, which records them.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "sageval/attention.h"
#include "sageval/model/llama_model.h"
#include "sageval/perf/gpu_memory.h"
#include "support/suite_settings.h"
#include "support/test_options.h"

namespace sageval::testing {
namespace {

#define SAGEVAL_REQUIRE_CUDA_BACKEND(name)                                        \
  do {                                                                           \
    const std::string why_not = why_no_cuda_path(name);                            \
    if (!why_not.empty()) GTEST_SKIP() << why_not;                               \
  } while (0)

struct LeakCase {
  std::string backend;
  int64_t length;
  std::string name() const { return backend + "_N" + std::to_string(length) + "_Causal_GQA2"; }
};
void PrintTo(const LeakCase& c, std::ostream* os) { *os << c.name(); }

class NoGrowth : public ::testing::TestWithParam<LeakCase> {};

TEST_P(NoGrowth, HundredCallsLeaveAllocatedBytesUnchanged) {
  const LeakCase& c = GetParam();
  SAGEVAL_REQUIRE_CUDA_BACKEND(c.backend);
  const auto fp16 = at::TensorOptions().dtype(at::kHalf).device(at::kCUDA);
  at::Tensor q = at::randn({2, c.length, 4, 128}, fp16), k = at::randn({2, c.length, 2, 128}, fp16), v = at::randn_like(k);
  auto backend = make_backend(c.backend);
  AttentionOptions o;
  o.causal = true;
  o.layout = Layout::NHD;
  backend->forward(q, k, v, o);  // first call: caches, plans and the allocator's pools settle
  const perf::GpuMemory start = perf::gpu_memory_now();
  for (int i = 0; i < 100; ++i) backend->forward(q, k, v, o);
  const perf::GpuMemory end = perf::gpu_memory_now();
  std::printf("[ figures  ] %s: allocated %lld -> %lld bytes, reserved %lld -> %lld bytes over 100 calls\n",
              c.name().c_str(), static_cast<long long>(start.allocated), static_cast<long long>(end.allocated),
              static_cast<long long>(start.reserved), static_cast<long long>(end.reserved));
  EXPECT_EQ(end.allocated, start.allocated) << "live tensor bytes grew across 100 calls";
  EXPECT_EQ(end.reserved, start.reserved) << "the caching allocator reserved more memory across 100 calls";
}

INSTANTIATE_TEST_SUITE_P(Backends, NoGrowth,
                         ::testing::Values(LeakCase{"fp16", 1024}, LeakCase{"sage_int8", 1024}, LeakCase{"sdpa", 1024},
                                           LeakCase{"fp16", 4097}, LeakCase{"sage_int8", 4097}, LeakCase{"sdpa", 4097}),
                         [](const ::testing::TestParamInfo<LeakCase>& info) { return info.param.name(); });

TEST(NoGrowth, ModelPrefillAndDecode) {
  SAGEVAL_REQUIRE_CUDA_BACKEND(candidate_backend());
  model::LoadOptions lo;
  lo.device = at::kCUDA;
  auto model = model::LlamaModel::load(model::default_model_dir(), lo);
  model->set_attention({candidate_backend(), {}});
  at::Tensor tokens = at::randint(0, 256, {2, 512}, at::TensorOptions().dtype(at::kLong).device(at::kCUDA));
  model->forward(tokens);
  const perf::GpuMemory start = perf::gpu_memory_now();
  for (int i = 0; i < 100; ++i) model->forward(tokens);
  for (int i = 0; i < 10; ++i) {  // a fresh cache per round: 10 rounds of a prefill and 9 decode steps
    auto cache = model->make_cache(2, 522);
    model->forward(tokens, &cache);
    for (int s = 0; s < 9; ++s) model->forward(tokens.slice(1, s, s + 1), &cache);
  }
  const perf::GpuMemory end = perf::gpu_memory_now();
  EXPECT_EQ(end.allocated, start.allocated) << "model forward leaks live tensors";
}

// A prefill far beyond any GPU's memory (about 30 GiB of embeddings alone and >100 GiB of activations in all)
// must come back as libtorch's out-of-memory error, which callers turn into a skip naming the size.
TEST(OutOfMemory, IsASkipNamingTheSize) {
  SAGEVAL_REQUIRE_CUDA_BACKEND(candidate_backend());
  model::LoadOptions lo;
  lo.device = at::kCUDA;
  auto model = model::LlamaModel::load(model::default_model_dir(), lo);
  model->set_attention({candidate_backend(), {}});
  const int64_t batch = 4096, length = 8192;
  at::Tensor tokens = at::zeros({batch, length}, at::TensorOptions().dtype(at::kLong).device(at::kCUDA));
  try {
    model->forward(tokens);
  } catch (const std::exception& e) {
    ASSERT_TRUE(perf::is_out_of_memory(e)) << "failed for another reason than memory: " << e.what();
    perf::release_cached_gpu_memory();
    const perf::GpuMemory m = perf::gpu_memory_now();
    EXPECT_LT(m.allocated, int64_t{1} << 30) << "memory not returned after the failed prefill";
    GTEST_SKIP() << fmt::format("prefill of B={} x L={} tokens ({} tokens) does not fit in {:.1f} GiB: out of memory",
                                batch, length, batch * length, static_cast<double>(m.device_total) / (1 << 30));
  }
  std::printf("[ figures  ] B=%lld x L=%lld fit on this GPU: nothing to skip\n", static_cast<long long>(batch),
              static_cast<long long>(length));
}

}  // namespace
}  // namespace sageval::testing
