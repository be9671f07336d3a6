// Per-block INT8 quantization and K smoothing, against independent recomputations with tensor ops.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <utility>

#include "sageval/kernels/sage_int8_numerics.h"
#include "sageval/quantize.h"

namespace sageval {
namespace {

// Blocks of wildly different magnitude (1e-3 .. 1e3), so a scale read from the wrong block shows up.
at::Tensor varied_blocks(int64_t b, int64_t h, int64_t n, int64_t d, int block_rows, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  at::Tensor x = at::randn({b, h, n, d}, gen);
  const int64_t blocks = (n + block_rows - 1) / block_rows;
  at::Tensor mag = at::pow(10.0, at::rand({b, h, blocks, 1}, gen) * 6.0 - 3.0);
  return x * mag.repeat_interleave(block_rows, 2).slice(2, 0, n);
}

TEST(QuantizePerBlock, RoundTripWithinHalfAStep) {
  for (int block_rows : {64, 128}) {
    at::Tensor x = varied_blocks(2, 3, 1000, 64, block_rows, 7 + block_rows);
    QuantizedInt8 qx = quantize_per_block(x, block_rows);
    ASSERT_EQ(qx.scales.size(2), (1000 + block_rows - 1) / block_rows);
    at::Tensor step = qx.scales.repeat_interleave(block_rows, 2).slice(2, 0, 1000).unsqueeze(-1);
    at::Tensor back = qx.values.to(at::kFloat) * step;
    // Half a step, plus float rounding of the division.
    at::Tensor excess = (back - x).abs() - step * (0.5f + 1e-5f);
    EXPECT_LE(excess.max().item<float>(), 0.0f) << "block_rows=" << block_rows;
  }
}

TEST(QuantizePerBlock, ScaleIsBlockAmaxOver127) {
  const int block_rows = 64;
  at::Tensor x = varied_blocks(1, 2, 200, 128, block_rows, 11);
  QuantizedInt8 qx = quantize_per_block(x, block_rows);
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t blk = 0; blk < 4; ++blk) {
      const int64_t begin = blk * block_rows, end = std::min<int64_t>(200, begin + block_rows);
      const float amax = x[0][h].slice(0, begin, end).abs().max().item<float>();
      EXPECT_EQ(qx.scales[0][h][blk].item<float>(), amax / 127.0f) << "head " << h << " block " << blk;
      // The element holding the block's amax maps to +-127.
      EXPECT_EQ(qx.values[0][h].slice(0, begin, end).abs().max().item<int8_t>(), 127);
    }
}

TEST(QuantizePerBlock, AllZeroBlockGivesUnitScaleAndNoNaN) {
  at::Tensor x = at::randn({1, 1, 192, 64});
  x.slice(2, 64, 128).zero_();
  QuantizedInt8 qx = quantize_per_block(x, 64);
  EXPECT_EQ(qx.scales[0][0][1].item<float>(), 1.0f);
  EXPECT_EQ(qx.values[0][0].slice(0, 64, 128).abs().max().item<int8_t>(), 0);
  EXPECT_FALSE(at::isnan(qx.scales).any().item<bool>());
  EXPECT_TRUE(at::isfinite(qx.values.to(at::kFloat) * qx.scales.repeat_interleave(64, 2).unsqueeze(-1)).all().item<bool>());
}

TEST(QuantizePerBlock, RoundsHalfAwayFromZero) {
  // amax 63.5 -> scale 0.5 exactly; x / scale lands on exact halves.
  at::Tensor x = at::tensor({63.5f, 1.25f, -1.25f, 0.25f, -0.25f, 0.75f, 0.0f, -63.5f}).reshape({1, 1, 8, 1});
  QuantizedInt8 qx = quantize_per_block(x, 8);
  ASSERT_EQ(qx.scales.item<float>(), 0.5f);
  const int8_t expected[] = {127, 3, -3, 1, -1, 2, 0, -127};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(qx.values[0][0][i][0].item<int8_t>(), expected[i]) << "element " << i;
}

TEST(QuantizePerBlock, PreScaleMultipliesFirst) {
  at::Tensor x = at::randn({1, 2, 130, 64});
  QuantizedInt8 a = quantize_per_block(x, 128, 0.3f);
  QuantizedInt8 b = quantize_per_block(x * 0.3f, 128);
  EXPECT_TRUE(at::equal(a.values, b.values));
  EXPECT_TRUE(at::equal(a.scales, b.scales));
}

TEST(SmoothK, MeanIsDoubleAccumulatedAndSubtracted) {
  at::Tensor k = (at::randn({2, 2, 333, 64}) * 3.0 + 5.0).to(at::kHalf);
  at::Tensor mean = token_mean(k);
  at::Tensor expected = k.to(at::kDouble).mean(2).to(at::kFloat);
  EXPECT_TRUE(at::allclose(mean, expected, 0.0, 1e-6));
  at::Tensor ks = smooth_k(k, mean);
  EXPECT_LT(ks.mean(2).abs().max().item<float>(), 1e-3f);
}

TEST(SageInt8QK, QuantizesQWithSoftmaxScaleInBase2) {
  at::Generator gen = at::detail::createCPUGenerator(11);
  at::Tensor q = at::randn({1, 4, 300, 128}, gen).to(at::kHalf);
  at::Tensor k = (at::randn({1, 2, 300, 128}, gen) + 4.0).to(at::kHalf);
  const double sm_scale = 1.0 / std::sqrt(128.0);
  at::Tensor q_scaled = q.to(at::kFloat) * static_cast<float>(sm_scale * 1.4426950408889634);
  for (const auto& [granularity, groups] : {std::pair{numerics::QGranularity::kPerBlock, 3},    // ceil(300 / 128)
                                            std::pair{numerics::QGranularity::kPerWarp, 19}}) {  // ceil(300 / 16)
    const SageInt8QK qg = quantize_sage_int8_qk(q, k, sm_scale, /*smooth=*/true, false, granularity);
    EXPECT_EQ(qg.q.scales.size(2), groups);
    const at::Tensor row_scale =
        qg.q.scales.repeat_interleave(numerics::q_scale_rows(granularity), 2).slice(2, 0, 300).unsqueeze(-1);
    const at::Tensor q_back = qg.q.values.to(at::kFloat) * row_scale;
    // Each value within half a step of its own group's scale.
    EXPECT_TRUE(((q_back - q_scaled).abs() <= row_scale * 0.5001f).all().item<bool>()) << groups << " groups";
  }
  SageInt8QK qk = quantize_sage_int8_qk(q, k, sm_scale, /*smooth=*/true);
  EXPECT_EQ(qk.k.scales.size(2), 5);  // ceil(300 / 64)
  // Smoothing removed the +4 shared by every token: K's steps are those of the centred values (the per-channel
  // mean of 300 tokens is within 0.25 of 4), not of 4 + N(0,1). A bound on the draw itself, not on a Gaussian
  // tail: a fixed "5 sigma" bound failed on about one draw in twenty.
  const float centred_max = (k.to(at::kFloat) - 4.0f).abs().max().item<float>();
  EXPECT_LT(qk.k.scales.max().item<float>(), (centred_max + 0.25f) / 127.0f);
  SageInt8QK raw = quantize_sage_int8_qk(q, k, sm_scale, /*smooth=*/false);
  EXPECT_GT(raw.k.scales.min().item<float>(), 5.0f / 127.0f);
  EXPECT_EQ(raw.k_mean.abs().max().item<float>(), 0.0f);
}

// The CUDA quantizer's division-free INT8 value equals the division's, sampled: random block maxima over the
// whole float range, values uniform in the block, values a few ulps from a half-integer quotient (where a wrong
// rounding would show) and the block maximum itself. The exhaustive check is the test after this one.
TEST(QuantizeInt8, DivisionFreeEqualsDivision) {
  std::mt19937_64 gen(2026);
  const auto from_bits = [](uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  };
  int64_t compared = 0, differing = 0, fallback_blocks = 0;
  for (int block = 0; block < 1000000; ++block) {
    const float amax = from_bits((static_cast<uint32_t>(1 + gen() % 253) << 23) | (gen() & 0x7fffffu));
    const float scale = numerics::int8_block_scale(amax);
    if (!numerics::division_free_quantization_ok(scale)) {
      ++fallback_blocks;
      continue;
    }
    const float inv = numerics::correctly_rounded_reciprocal(scale);
    for (int k = 0; k < 8; ++k) {
      float x = 0.0f;
      switch (k % 4) {
        case 0: x = amax * static_cast<float>(static_cast<int64_t>(gen() % 2000001) - 1000000) / 1e6f; break;
        case 1: {
          x = (static_cast<float>(static_cast<int>(gen() % 255) - 127) + 0.5f) * scale;
          uint32_t u;
          std::memcpy(&u, &x, 4);
          x = from_bits(u + static_cast<uint32_t>(static_cast<int>(gen() % 9) - 4));
          break;
        }
        case 2: x = (gen() % 2 != 0) ? amax : -amax; break;
        default:  // magnitudes down to 2^-40 of the block maximum
          x = from_bits((static_cast<uint32_t>(gen()) & 0x807fffffu) | (126u << 23)) *
              std::ldexp(amax, -static_cast<int>(gen() % 40));
          break;
      }
      if (!(std::fabs(x) <= amax)) continue;
      ++compared;
      if (numerics::quantize_int8(x, scale) != numerics::quantize_int8_division_free(x, scale, inv)) ++differing;
    }
  }
  EXPECT_GT(compared, 6000000);
  EXPECT_GT(fallback_blocks, 0) << "the range guard was never exercised";
  EXPECT_EQ(differing, 0) << "of " << compared;
}

// roundf can only tell the two quotients apart next to a half-integer k + 0.5, and inside the range guard the
// result depends neither on the sign nor on a power of two common to x and the scale. So every scale significand
// in [1, 2) times every x within 4 ulps of (k + 0.5) * scale, k = 0..127, covers every case: 9.7e9 evaluations
// with SAGEVAL_EXHAUSTIVE=1 (103 s on one core of the 2-core CI machine, 2026-11-29: no difference). By default
// every 64th significand (1.5e8 evaluations, about a second).
TEST(QuantizeInt8, DivisionFreeEqualsDivisionNextToEveryHalfInteger) {
  const bool exhaustive = std::getenv("SAGEVAL_EXHAUSTIVE") != nullptr;
  const uint32_t stride = exhaustive ? 1 : 64;
  const auto from_bits = [](uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  };
  int64_t compared = 0, differing = 0;
  for (uint32_t m = 0; m < (1u << 23); m += stride) {
    const float scale = from_bits((127u << 23) | m);
    ASSERT_TRUE(numerics::division_free_quantization_ok(scale));
    const float inv = numerics::correctly_rounded_reciprocal(scale);
    for (int k = 0; k <= 127; ++k) {
      uint32_t u;
      const float x0 = static_cast<float>((k + 0.5) * static_cast<double>(scale));
      std::memcpy(&u, &x0, 4);
      for (int d = -4; d <= 4; ++d) {
        const float x = from_bits(u + static_cast<uint32_t>(d));
        ++compared;
        differing += numerics::quantize_int8(x, scale) != numerics::quantize_int8_division_free(x, scale, inv);
      }
    }
  }
  EXPECT_EQ(differing, 0) << "of " << compared;
}

}  // namespace
}  // namespace sageval
