// Standalone device harness for kernels/: correctness against a float64 CPU attention, bit-exact checks of the
// INT8 quantization against a host recomputation with sage_int8_numerics.h, and CUDA-event timings.
// Usage: sage_harness [check] [bench] [quick]
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../../kernels/attention_kernels.h"
#include "../../kernels/cuda_check.h"
#include "../../kernels/kernel_tuning.h"
#include "../../kernels/sage_int8_numerics.h"

using namespace sageval::kernels;
namespace nx = sageval::numerics;

static float h2f(uint16_t v, bool bf16) {
  if (bf16) {
    uint32_t u = uint32_t(v) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  __half_raw r;
  r.x = v;
  return __half2float(__half(r));
}
static uint16_t f2h(float f, bool bf16) {
  if (bf16) {
    __nv_bfloat16 b = __float2bfloat16_rn(f);
    return reinterpret_cast<__nv_bfloat16_raw&>(b).x;
  }
  __half h = __float2half_rn(f);
  return reinterpret_cast<__half_raw&>(h).x;
}

struct Case {
  const char* name;
  int B, Hq, Hkv, Nq, Nk, D;
  bool causal, bf16, nhd;
  float vmax;
};

struct Host {
  std::vector<uint16_t> q, k, v;  // storage in the case's layout
  Strides4 qs, ks, vs, os;
};

static Strides4 make_strides(int H, int N, int D, bool nhd) {
  // HND: [B,H,N,D]; NHD: [B,N,H,D]
  if (nhd) return Strides4{int64_t(N) * H * D, D, int64_t(H) * D};
  return Strides4{int64_t(H) * N * D, int64_t(N) * D, D};
}

static inline int64_t at(const Strides4& s, int b, int h, int n) { return b * s.batch + h * s.head + n * s.token; }

// float64 reference: out [B,Hq,Nq,D] (HND contiguous), lse [B,Hq,Nq].
static void reference(const Case& c, const Host& x, float sm, std::vector<double>& out, std::vector<double>& lse) {
  out.assign(size_t(c.B) * c.Hq * c.Nq * c.D, 0.0);
  lse.assign(size_t(c.B) * c.Hq * c.Nq, -INFINITY);
  const int group = c.Hq / c.Hkv;
#pragma omp parallel for collapse(2) schedule(dynamic)
  for (int b = 0; b < c.B; ++b)
    for (int h = 0; h < c.Hq; ++h) {
      const int hk = h / group;
      std::vector<double> s(c.Nk);
      for (int i = 0; i < c.Nq; ++i) {
        double mx = -INFINITY;
        int lim = c.causal ? std::min(c.Nk - 1, i + c.Nk - c.Nq) : c.Nk - 1;
        for (int j = 0; j <= lim; ++j) {
          double acc = 0;
          for (int d = 0; d < c.D; ++d)
            acc += double(h2f(x.q[at(x.qs, b, h, i) + d], c.bf16)) * h2f(x.k[at(x.ks, b, hk, j) + d], c.bf16);
          s[j] = acc * sm;
          mx = std::max(mx, s[j]);
        }
        if (lim < 0) continue;
        double l = 0;
        for (int j = 0; j <= lim; ++j) {
          s[j] = std::exp(s[j] - mx);
          l += s[j];
        }
        double* o = &out[((size_t(b) * c.Hq + h) * c.Nq + i) * c.D];
        for (int j = 0; j <= lim; ++j)
          for (int d = 0; d < c.D; ++d) o[d] += s[j] / l * h2f(x.v[at(x.vs, b, hk, j) + d], c.bf16);
        lse[(size_t(b) * c.Hq + h) * c.Nq + i] = mx + std::log(l);
      }
    }
}

struct Metrics {
  double cos, rel_l1, lse_max_abs;
  long nonfinite;
};

static Metrics compare(const Case& c, const std::vector<uint16_t>& got, const std::vector<float>& lse_got,
                       const std::vector<double>& ref, const std::vector<double>& lse_ref, const Strides4& os) {
  Metrics m{0, 0, 0, 0};
  double dot = 0, na = 0, nb = 0, l1 = 0, l1r = 0;
  for (int b = 0; b < c.B; ++b)
    for (int h = 0; h < c.Hq; ++h)
      for (int i = 0; i < c.Nq; ++i)
        for (int d = 0; d < c.D; ++d) {
          double a = h2f(got[at(os, b, h, i) + d], c.bf16);
          double r = ref[((size_t(b) * c.Hq + h) * c.Nq + i) * c.D + d];
          if (!std::isfinite(a)) {
            ++m.nonfinite;
            continue;
          }
          dot += a * r, na += a * a, nb += r * r, l1 += std::fabs(a - r), l1r += std::fabs(r);
        }
  m.cos = (na == 0 && nb == 0) ? 1.0 : dot / std::sqrt(na * nb);
  m.rel_l1 = l1r == 0 ? l1 : l1 / l1r;
  for (size_t i = 0; i < lse_ref.size(); ++i) {
    double a = lse_got[i], r = lse_ref[i];
    if (std::isinf(r) && r < 0) {
      if (!(std::isinf(a) && a < 0)) ++m.nonfinite;
      continue;
    }
    if (!std::isfinite(a)) {
      ++m.nonfinite;
      continue;
    }
    m.lse_max_abs = std::max(m.lse_max_abs, std::fabs(a - r));
  }
  return m;
}

// Host recomputation of the INT8 workspace (steps 1-3) and count of mismatches.
static long check_quant(const Case& c, const Host& x, float sm, const SageInt8WorkspaceLayout& L, const char* dws) {
  std::vector<char> ws(L.total_bytes);
  SAGEVAL_CUDA_CHECK(cudaMemcpy(ws.data(), dws, L.total_bytes, cudaMemcpyDeviceToHost));
  const int8_t* qi = reinterpret_cast<const int8_t*>(ws.data() + L.q_int8);
  const int8_t* ki = reinterpret_cast<const int8_t*>(ws.data() + L.k_int8);
  const float* qsc = reinterpret_cast<const float*>(ws.data() + L.q_scale);
  const float* ksc = reinterpret_cast<const float*>(ws.data() + L.k_scale);
  const float* kmean = reinterpret_cast<const float*>(ws.data() + L.k_mean);
  long bad = 0;
  const float qk = nx::qk_scale_log2(sm);
  std::vector<float> mean(c.D);
  for (int b = 0; b < c.B; ++b)
    for (int hk = 0; hk < c.Hkv; ++hk) {
      const int64_t bh = int64_t(b) * c.Hkv + hk;
      for (int d = 0; d < c.D; ++d) {
        double s = 0;
        for (int n = 0; n < c.Nk; ++n) s += double(h2f(x.k[at(x.ks, b, hk, n) + d], c.bf16));
        mean[d] = float(s / c.Nk);
        if (std::memcmp(&mean[d], &kmean[bh * c.D + d], 4) != 0) ++bad;
      }
      for (int kb = 0; kb < L.k_blocks; ++kb) {
        float amax = 0;
        std::vector<float> xs(size_t(64) * c.D, 0.f);
        for (int r = 0; r < 64; ++r) {
          int n = kb * 64 + r;
          if (n >= c.Nk) continue;
          for (int d = 0; d < c.D; ++d) {
            xs[r * c.D + d] = h2f(x.k[at(x.ks, b, hk, n) + d], c.bf16) - mean[d];
            amax = std::max(amax, std::fabs(xs[r * c.D + d]));
          }
        }
        float sc = nx::int8_block_scale(amax);
        if (sc != ksc[bh * L.k_blocks + kb]) ++bad;
        for (int r = 0; r < 64; ++r)
          for (int d = 0; d < c.D; ++d)
            if (nx::quantize_int8(xs[r * c.D + d], sc) != ki[(bh * L.len_k_padded + kb * 64 + r) * c.D + d]) ++bad;
      }
    }
  for (int b = 0; b < c.B; ++b)
    for (int h = 0; h < c.Hq; ++h) {
      const int64_t bh = int64_t(b) * c.Hq + h;
      for (int qb = 0; qb < L.q_blocks; ++qb) {
        const int R = nx::kQBlockRows;
        float amax = 0;
        std::vector<float> xs(size_t(R) * c.D, 0.f);
        for (int r = 0; r < R; ++r) {
          int n = qb * R + r;
          if (n >= c.Nq) continue;
          for (int d = 0; d < c.D; ++d) {
            xs[r * c.D + d] = h2f(x.q[at(x.qs, b, h, n) + d], c.bf16) * qk;
            amax = std::max(amax, std::fabs(xs[r * c.D + d]));
          }
        }
        float sc = nx::int8_block_scale(amax);
        if (sc != qsc[bh * L.q_blocks + qb]) ++bad;
        for (int r = 0; r < R; ++r)
          for (int d = 0; d < c.D; ++d)
            if (nx::quantize_int8(xs[r * c.D + d], sc) != qi[(bh * L.len_q_padded + qb * R + r) * c.D + d]) ++bad;
      }
    }
  return bad;
}

static void fill(std::vector<uint16_t>& v, size_t n, float scale, bool bf16, std::mt19937& g, float offset = 0.f) {
  std::normal_distribution<float> nd(0.f, 1.f);
  v.resize(n);
  for (auto& e : v) e = f2h(nd(g) * scale + offset, bf16);
}

static bool run_check(const Case& c, uint32_t seed) {
  std::mt19937 g(seed);
  Host x;
  x.qs = make_strides(c.Hq, c.Nq, c.D, c.nhd);
  x.ks = make_strides(c.Hkv, c.Nk, c.D, c.nhd);
  x.vs = x.ks;
  x.os = make_strides(c.Hq, c.Nq, c.D, c.nhd);
  const size_t nq = size_t(c.B) * c.Hq * c.Nq * c.D, nk = size_t(c.B) * c.Hkv * c.Nk * c.D;
  fill(x.q, nq, 1.0f, c.bf16, g);
  fill(x.k, nk, 1.0f, c.bf16, g, 0.5f);  // a channel offset, which the K smoothing removes
  fill(x.v, nk, c.vmax / 4.0f, c.bf16, g);
  const float sm = 1.0f / std::sqrt(float(c.D));
  AttentionProblem p;
  p.batch = c.B, p.heads_q = c.Hq, p.heads_kv = c.Hkv, p.len_q = c.Nq, p.len_k = c.Nk, p.head_dim = c.D;
  p.causal = c.causal, p.sm_scale = sm, p.dtype = c.bf16 ? ElementType::kBFloat16 : ElementType::kFloat16;
  void *dq, *dk, *dv, *dout;
  float* dlse;
  SAGEVAL_CUDA_CHECK(cudaMalloc(&dq, nq * 2));
  SAGEVAL_CUDA_CHECK(cudaMalloc(&dk, nk * 2));
  SAGEVAL_CUDA_CHECK(cudaMalloc(&dv, nk * 2));
  SAGEVAL_CUDA_CHECK(cudaMalloc(&dout, nq * 2));
  const size_t nl = size_t(c.B) * c.Hq * c.Nq;
  SAGEVAL_CUDA_CHECK(cudaMalloc(&dlse, nl * 4));
  SAGEVAL_CUDA_CHECK(cudaMemcpy(dq, x.q.data(), nq * 2, cudaMemcpyHostToDevice));
  SAGEVAL_CUDA_CHECK(cudaMemcpy(dk, x.k.data(), nk * 2, cudaMemcpyHostToDevice));
  SAGEVAL_CUDA_CHECK(cudaMemcpy(dv, x.v.data(), nk * 2, cudaMemcpyHostToDevice));
  AttentionTensors t;
  t.q = dq, t.k = dk, t.v = dv, t.out = dout, t.lse = dlse;
  t.q_strides = x.qs, t.k_strides = x.ks, t.v_strides = x.vs, t.out_strides = x.os;
  std::vector<double> ref, lref;
  reference(c, x, sm, ref, lref);
  std::vector<uint16_t> got(nq);
  std::vector<float> lgot(nl);
  bool ok = true;
  for (int rows : {16, 32}) {
    set_warp_rows_override(rows);
    // fp16 kernel
    SAGEVAL_CUDA_CHECK(cudaMemset(dout, 0xFF, nq * 2));  // NaN in fp16 and bf16
    SAGEVAL_CUDA_CHECK(cudaMemset(dlse, 0xFF, nl * 4));  // NaN
    attention_fp16_forward(p, t, 0);
    SAGEVAL_CUDA_CHECK(cudaDeviceSynchronize());
    SAGEVAL_CUDA_CHECK(cudaMemcpy(got.data(), dout, nq * 2, cudaMemcpyDeviceToHost));
    SAGEVAL_CUDA_CHECK(cudaMemcpy(lgot.data(), dlse, nl * 4, cudaMemcpyDeviceToHost));
    Metrics a = compare(c, got, lgot, ref, lref, x.os);
    bool pa = a.nonfinite == 0 && a.cos > 0.9999 && a.rel_l1 < (c.bf16 ? 1.5e-2 : 3e-3) && a.lse_max_abs < 1e-2;
    std::printf("%-26s rows/warp=%d fp16-kernel cos=%.7f relL1=%.3e lse_err=%.2e nonfinite=%ld %s\n", c.name, rows,
                a.cos, a.rel_l1, a.lse_max_abs, a.nonfinite, pa ? "PASS" : "FAIL");
    ok &= pa;
    // int8
    SageInt8WorkspaceLayout L = sage_int8_workspace_layout(p);
    char* dws;
    SAGEVAL_CUDA_CHECK(cudaMalloc(&dws, L.total_bytes));
    SAGEVAL_CUDA_CHECK(cudaMemset(dws, 0x7F, L.total_bytes));  // poison the workspace too
    SageInt8Workspace ws = sage_int8_workspace_at(dws, L);
    SAGEVAL_CUDA_CHECK(cudaMemset(dout, 0xFF, nq * 2));
    SAGEVAL_CUDA_CHECK(cudaMemset(dlse, 0xFF, nl * 4));
    sage_int8_quantize(p, t, ws, 0);
    sage_int8_attention(p, t, ws, 0);
    SAGEVAL_CUDA_CHECK(cudaDeviceSynchronize());
    SAGEVAL_CUDA_CHECK(cudaMemcpy(got.data(), dout, nq * 2, cudaMemcpyDeviceToHost));
    SAGEVAL_CUDA_CHECK(cudaMemcpy(lgot.data(), dlse, nl * 4, cudaMemcpyDeviceToHost));
    Metrics m = compare(c, got, lgot, ref, lref, x.os);
    long qbad = rows == 16 ? check_quant(c, x, sm, L, dws) : 0;
    bool pm = m.nonfinite == 0 && m.cos > 0.995 && m.rel_l1 < 8e-2 && m.lse_max_abs < 5e-2 && qbad == 0;
    std::printf("%-26s rows/warp=%d int8-kernel cos=%.7f relL1=%.3e lse_err=%.2e nonfinite=%ld quant_mismatch=%ld %s\n",
                c.name, rows, m.cos, m.rel_l1, m.lse_max_abs, m.nonfinite, qbad, pm ? "PASS" : "FAIL");
    ok &= pm;
    SAGEVAL_CUDA_CHECK(cudaFree(dws));
  }
  set_warp_rows_override(0);
  cudaFree(dq), cudaFree(dk), cudaFree(dv), cudaFree(dout), cudaFree(dlse);
  return ok;
}

// ---------------- timing ----------------
template <class F>
static double median_ms(F&& f, int reps = 25) {
  cudaEvent_t a, b;
  SAGEVAL_CUDA_CHECK(cudaEventCreate(&a));
  SAGEVAL_CUDA_CHECK(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) f();
  SAGEVAL_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<float> t;
  for (int i = 0; i < reps; ++i) {
    SAGEVAL_CUDA_CHECK(cudaEventRecord(a));
    f();
    SAGEVAL_CUDA_CHECK(cudaEventRecord(b));
    SAGEVAL_CUDA_CHECK(cudaEventSynchronize(b));
    float ms;
    SAGEVAL_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  std::sort(t.begin(), t.end());
  cudaEventDestroy(a), cudaEventDestroy(b);
  return t[t.size() / 2];
}

__global__ void fill_random(uint16_t* p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    uint32_t h = uint32_t(i) * 2654435761u ^ seed;
    h ^= h >> 15, h *= 2246822519u, h ^= h >> 13;
    float f = (float(h & 0xFFFF) / 65536.0f - 0.5f) * 3.4f;  // ~unit variance
    p[i] = __half_as_ushort(__float2half_rn(f));
  }
}

static void bench(bool quick) {
  cudaDeviceProp prop;
  SAGEVAL_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  // copy bandwidth
  size_t cb = size_t(1) << 30;
  void *c0, *c1;
  SAGEVAL_CUDA_CHECK(cudaMalloc(&c0, cb));
  SAGEVAL_CUDA_CHECK(cudaMalloc(&c1, cb));
  SAGEVAL_CUDA_CHECK(cudaMemset(c0, 1, cb));
  double cms = median_ms([&] { SAGEVAL_CUDA_CHECK(cudaMemcpyAsync(c1, c0, cb, cudaMemcpyDeviceToDevice)); }, 10);
  double copy_gbs = 2.0 * cb / cms / 1e6;
  cudaFree(c0), cudaFree(c1);
  std::printf("device %s, %d SMs; D2D copy %.0f GB/s (read+write)\n", prop.name, prop.multiProcessorCount, copy_gbs);
  std::vector<std::string> table;
  char line[512];
  std::snprintf(line, sizeof line, "%-4s %-6s %-3s %-5s %3s | %9s %9s %9s | %8s %7s", "D", "causal", "B", "N", "rpw",
                "fp16", "int8", "int8+q", "quantGB/s", "q%copy");
  table.push_back(line);
  const int Ns[] = {1024, 2048, 4096, 8192, 16384};
  for (int D : {128, 64}) {
    for (bool causal : {false, true}) {
      for (int N : Ns) {
        if (quick && N != 4096 && N != 16384) continue;
        const int B = 32768 / N, H = 2048 / D;
        AttentionProblem p;
        p.batch = B, p.heads_q = H, p.heads_kv = H, p.len_q = N, p.len_k = N, p.head_dim = D, p.causal = causal;
        p.sm_scale = 1.0f / std::sqrt(float(D));
        const size_t n = size_t(B) * H * N * D;
        uint16_t *q, *k, *v, *o;
        SAGEVAL_CUDA_CHECK(cudaMalloc(&q, n * 2));
        SAGEVAL_CUDA_CHECK(cudaMalloc(&k, n * 2));
        SAGEVAL_CUDA_CHECK(cudaMalloc(&v, n * 2));
        SAGEVAL_CUDA_CHECK(cudaMalloc(&o, n * 2));
        fill_random<<<1024, 256>>>(q, n, 1), fill_random<<<1024, 256>>>(k, n, 2), fill_random<<<1024, 256>>>(v, n, 3);
        SAGEVAL_CUDA_CHECK_LAUNCH();
        AttentionTensors t;
        t.q = q, t.k = k, t.v = v, t.out = o;
        t.q_strides = t.k_strides = t.v_strides = t.out_strides = make_strides(H, N, D, false);
        SageInt8WorkspaceLayout L = sage_int8_workspace_layout(p);
        char* dws;
        SAGEVAL_CUDA_CHECK(cudaMalloc(&dws, L.total_bytes));
        SageInt8Workspace ws = sage_int8_workspace_at(dws, L);
        const double flops = 4.0 * B * H * double(N) * N * D * (causal ? 0.5 : 1.0);
        double qms = median_ms([&] { sage_int8_quantize(p, t, ws, 0); });
        const double qbytes = double(n) * (2 + 4 + 1 + 1);  // read q, k twice; write int8 q, k
        for (int rows : {32, 16}) {
          set_warp_rows_override(rows);
          double f = median_ms([&] { attention_fp16_forward(p, t, 0); });
          double i8 = median_ms([&] { sage_int8_attention(p, t, ws, 0); });
          double iq = median_ms([&] {
            sage_int8_quantize(p, t, ws, 0);
            sage_int8_attention(p, t, ws, 0);
          });
          std::snprintf(line, sizeof line, "%-4d %-6s %-3d %-5d %3d | %9.1f %9.1f %9.1f | %8.0f %6.0f%%", D,
                        causal ? "yes" : "no", B, N, rows, flops / f / 1e9, flops / i8 / 1e9, flops / iq / 1e9,
                        qbytes / qms / 1e6, 100.0 * qbytes / qms / 1e6 / copy_gbs);
          table.push_back(line);
          std::printf("%s   (ms: fp16 %.3f int8 %.3f int8+q %.3f quant %.3f)\n", line, f, i8, iq, qms);
          std::fflush(stdout);
        }
        set_warp_rows_override(0);
        cudaFree(q), cudaFree(k), cudaFree(v), cudaFree(o), cudaFree(dws);
      }
    }
  }
  std::printf("\n== TOPS (4*B*H*N^2*D/time, halved for causal; B*N=32768, H*D=2048; rpw = query rows per warp) ==\n");
  for (auto& s : table) std::printf("%s\n", s.c_str());
}

int main(int argc, char** argv) {
  bool do_check = false, do_bench = false, quick = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    do_check |= a == "check", do_bench |= a == "bench", quick |= a == "quick";
  }
  if (!do_check && !do_bench) do_check = do_bench = true;
  int fails = 0;
  if (do_check) {
    const Case cases[] = {
        {"hnd_d128_n1000", 2, 4, 4, 1000, 1000, 128, false, false, false, 4.f},
        {"hnd_d64_n1000_causal", 2, 4, 4, 1000, 1000, 64, true, false, false, 4.f},
        {"len63_d128_causal", 1, 2, 2, 63, 63, 128, true, false, false, 4.f},
        {"len65_d64", 1, 2, 2, 65, 65, 64, false, false, false, 4.f},
        {"decode_q1_k1000_causal", 2, 8, 2, 1, 1000, 128, true, false, false, 4.f},
        {"gqa4_nhd_d128_q300_k700c", 1, 8, 2, 300, 700, 128, true, false, true, 4.f},
        {"q700_k300_causal_d64", 1, 2, 1, 700, 300, 64, true, false, false, 4.f},
        {"bf16_v1e5_d128_n500", 1, 4, 4, 500, 500, 128, false, true, false, 1e5f},
        {"bf16_v1e5_gqa_nhd_d64c", 2, 4, 1, 257, 1000, 64, true, true, true, 1e5f},
        {"bf16_d128_n1000_causal", 1, 2, 2, 1000, 1000, 128, true, true, false, 4.f},
    };
    uint32_t seed = 12345;
    for (const Case& c : cases) fails += run_check(c, seed++) ? 0 : 1;
    std::printf("correctness: %d case(s) failed\n", fails);
  }
  if (do_bench) bench(quick);
  return fails == 0 ? 0 : 1;
}
