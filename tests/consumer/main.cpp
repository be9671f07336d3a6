// Runs the fp16 backend (its CPU emulation) against math through the installed library's interface; exits 1 if
// the two disagree, so a broken install cannot pass by linking alone.
#include <cstdio>

#include <sageval/attention.h>
#include <sageval/attention_inputs.h>

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
  return err < 1e-2 ? 0 : 1;
}
