// Runs the fp16 backend (its CPU emulation) against math through the installed library's interface; exits 1 if
// the two disagree, so a broken install cannot pass by linking alone.
#include <cstdio>

#include <sageval/attention.h>
#include <sageval/attention_inputs.h>
#include <sageval/emulation.h>
#include <sageval/quantize.h>

int main() {
  sageval::AttentionShape shape;
  shape.heads_q = 4;
  shape.heads_kv = 2;
  shape.len_q = shape.len_k = 64;
  shape.head_dim = 64;
  const auto in = sageval::make_attention_inputs(shape, sageval::InputFamily::Gaussian, at::kHalf,
                                                 sageval::Layout::HND, 7);
  const at::Tensor out = sageval::make_backend("fp16")->forward(in.q, in.k, in.v).out.to(at::kDouble);
  const at::Tensor ref = sageval::make_backend("math")->forward(in.q, in.k, in.v).out.to(at::kDouble);
  const double err = (out - ref).abs().max().item<double>();
  std::printf("sageval consumer: fp16 vs math max abs error %.3g over %lld outputs\n", err,
              static_cast<long long>(out.numel()));
  // The INT8 recipe's public headers (they include the numerics contract): one Q scale per group of rows.
  const sageval::SageInt8QK qk = sageval::quantize_sage_int8_qk(in.q, in.k, 0.125, true);
  const int64_t groups = (shape.len_q + sageval::numerics::q_scale_rows(sageval::numerics::kDefaultQGranularity) - 1) /
                         sageval::numerics::q_scale_rows(sageval::numerics::kDefaultQGranularity);
  std::printf("sageval consumer: %lld Q scales per head (expected %lld)\n", static_cast<long long>(qk.q.scales.size(2)),
              static_cast<long long>(groups));
  return err < 1e-2 && qk.q.scales.size(2) == groups ? 0 : 1;
}
