// The CUDA quantizers' element quantizer (sage_int8_numerics.h: round_to_int8 through quantize_int8_division_free,
// quantize_int8 for blocks outside its range) against the CPU's quantize_int8 (IEEE division, std::round), bit
// for bit, on the inputs where a rounding shortcut would go wrong: every half-integer quotient and the floats next
// to it, the clamp at +-127, zeros, subnormals, the ends of the division-free range. The GPU byte-identity tests
// of the whole quantizer only meet these by chance. Skips visibly without a CUDA device.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "sageval/kernels/sage_int8_numerics.h"
#include "support/suite_settings.h"

#ifdef SAGEVAL_WITH_CUDA_KERNELS
#include <ATen/cuda/CUDAContext.h>

#include "sageval/kernels/int8_rounding_selftest.h"
#endif

namespace sageval::testing {
namespace {

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

struct Inputs {
  std::vector<float> x, scale;
  void add(float xi, float si) {
    x.push_back(xi);
    scale.push_back(si);
  }
};

struct RoundingCase {
  std::string name;
  std::function<Inputs()> make;
};

// Every float within 2048 ulps of each half-integer k + 0.5, |k| <= 130, in blocks of scale 1 (x / scale = x).
Inputs next_to_every_half_integer() {
  Inputs in;
  for (int k = -131; k <= 130; ++k) {
    const uint32_t u = bits_of(static_cast<float>(k) + 0.5f);
    for (int d = -2048; d <= 2048; ++d) in.add(from_bits(u + static_cast<uint32_t>(d)), 1.0f);
  }
  return in;
}

// Random scales over the whole range the division-free path takes, x a few ulps from (k + 0.5) * scale (the
// quotients that round either way) and anywhere in the block.
Inputs random_scales_next_to_half_integers() {
  Inputs in;
  std::mt19937_64 gen(2026);
  for (int block = 0; block < 200000; ++block) {
    const float scale = from_bits((static_cast<uint32_t>(28 + gen() % 199) << 23) | (gen() & 0x7fffffu));
    for (int i = 0; i < 8; ++i) {
      const int k = static_cast<int>(gen() % 257) - 128;
      const float x0 = static_cast<float>((k + 0.5) * static_cast<double>(scale));
      const float x = i < 6 ? from_bits(bits_of(x0) + static_cast<uint32_t>(static_cast<int>(gen() % 9) - 4))
                            : scale * (static_cast<float>(gen() % 254001) / 1000.0f - 127.0f);
      in.add(x, scale);
    }
  }
  return in;
}

// Zeros, the clamp at +-127 (a block's largest value may exceed 127 * scale by the scale's rounding), subnormal
// values, quotients just under one half, and scales at and past the ends of the division-free range (there the
// division, quantize_int8, runs). Every x lies in the quantizer's domain, |x| <= 127.0001 * scale: the scale is the
// block's max / 127, so a block never holds a value far beyond it (past it, x * (1 / scale) may overflow where
// x / scale does not, and the two paths may part).
Inputs special_values() {
  Inputs in;
  for (const float scale : {1.0f, 3.0f, 1e-30f, 0x1p-100f, 0x1p100f, 0x1p-101f, 0x1p101f, 0x1p-126f}) {
    for (const float v : {0.0f, -0.0f, 0.5f, -0.5f, 0.49999997f, -0.49999997f, 1.5f, -2.5f, 126.5f, -126.5f, 127.0f,
                          -127.0f, 127.0001f, -127.0001f, 1e-7f, -1e-7f})
      in.add(v * scale, scale);
    for (const float x : {1e-45f, -1e-45f, 1e-40f, 1e-38f})  // subnormal (and tiny normal) values
      if (std::fabs(x) <= 127.0f * scale) in.add(x, scale);
  }
  return in;
}

class Int8Rounding : public ::testing::TestWithParam<RoundingCase> {};

TEST_P(Int8Rounding, DeviceEqualsHostDivision) {
  if (const std::string why = why_no_cuda_kernels(); !why.empty()) GTEST_SKIP() << why;
#ifdef SAGEVAL_WITH_CUDA_KERNELS
  const Inputs in = GetParam().make();
  const int64_t n = static_cast<int64_t>(in.x.size());
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  const at::Tensor x = at::from_blob(const_cast<float*>(in.x.data()), {n}, f32).cuda();
  const at::Tensor scale = at::from_blob(const_cast<float*>(in.scale.data()), {n}, f32).cuda();
  at::Tensor q = at::full({n}, 99, at::TensorOptions().dtype(at::kChar).device(at::kCUDA));  // poison
  kernels::int8_quantizer_selftest(x.data_ptr<float>(), scale.data_ptr<float>(), q.data_ptr<int8_t>(), n,
                                   at::cuda::getCurrentCUDAStream().stream());
  const at::Tensor got = q.cpu();
  const int8_t* g = got.data_ptr<int8_t>();
  int64_t differing = 0;
  std::string first;
  for (int64_t i = 0; i < n; ++i) {
    const int8_t want = numerics::quantize_int8(in.x[i], in.scale[i]);
    if (g[i] == want) continue;
    if (differing++ == 0)
      first = "x " + std::to_string(in.x[i]) + " (bits " + std::to_string(bits_of(in.x[i])) + "), scale " +
              std::to_string(in.scale[i]) + ": device " + std::to_string(g[i]) + ", host " + std::to_string(want);
  }
  EXPECT_GT(n, 100);
  EXPECT_EQ(differing, 0) << "of " << n << "; first: " << first;
#endif
}

INSTANTIATE_TEST_SUITE_P(Inputs, Int8Rounding,
                         ::testing::Values(RoundingCase{"Scale1_NextToEveryHalfInteger", next_to_every_half_integer},
                                           RoundingCase{"RandomScales_NextToHalfIntegers",
                                                        random_scales_next_to_half_integers},
                                           RoundingCase{"SpecialValues", special_values}),
                         [](const ::testing::TestParamInfo<RoundingCase>& info) { return info.param.name; });

}  // namespace
}  // namespace sageval::testing
