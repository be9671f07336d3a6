// Thin wrappers over the Hopper (sm_90a) instructions the INT8 attention kernel for Hopper is built from, one
// function per instruction, each citing its section of the PTX ISA (version 8.x, "Parallel Thread Execution
// ISA"). No CUTLASS/CuTe: these machines do not package it, and the project vendors nothing.
//
// Used by the sm90 path of the INT8 attention kernel (attention_int8_sm90.cu): the warpgroup matrix products
// (wgmma) of INT8 operands from shared memory (Q.K^T) and of FP16 A from registers with B from shared memory
// (P.V), their fences, shared-memory descriptors (no swizzle and the 128/64-byte swizzled canonical layouts),
// TMA loads completing on mbarriers, named barriers and setmaxnreg. The no-swizzle products and the 2-D TMA load
// are also checked bit for bit against the CPU by the GPU tests Sm90Wgmma and Sm90Tma
// (tests/gpu/test_sm90_primitives.cpp, through sm90_selftest.cu); the swizzled layouts through the attention
// kernel's accuracy tests.
//
// Compiled only where __CUDA_ARCH_FEAT_SM90_ALL is defined (the sm_90a target); callers guard their kernels
// the same way and their hosts check the compute capability before launching.
#pragma once

#include <cstdint>
#include <type_traits>

namespace sageval::kernels::sm90 {

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

// Shared-memory matrix descriptor (PTX ISA 9.7.15.5.1.2.2, "Matrix Descriptor Format"): start address, leading
// and stride byte offsets, each in 16-byte units in 14 bits; bits 62-63 the swizzle mode. Canonical layouts
// (PTX ISA 9.7.15.5.1.2, table "canonical layouts"), T = 16 bytes of elements:
//  - no swizzle: "core matrices" of 8 rows x 16 bytes stored as 128 contiguous bytes; K-major: `leading_bytes`
//    between core matrices adjacent in K, `stride_bytes` between those adjacent in M (or N).
//  - K-major, 128/64-byte swizzle: rows of 128/64 bytes, 8-row atoms of 1024/512 bytes; `stride_bytes` between
//    8-row groups, `leading_bytes` unused (encoded 1). A k-step inside the atom advances the start address.
//  - MN-major, 128-byte swizzle: 64 16-bit elements of MN contiguous per K row, 8-row atoms of 1024 bytes;
//    `leading_bytes` between 64-element MN panels, `stride_bytes` between 8-row K groups.
// Swizzled operands start on their atom's boundary (1024/512 bytes), so the base offset field stays 0.
enum class Swizzle : uint64_t { kNone = 0, k128B = 1, k64B = 2, k32B = 3 };

__device__ __forceinline__ uint64_t smem_descriptor(uint32_t smem_address, uint32_t leading_bytes, uint32_t stride_bytes,
                                                    Swizzle swizzle = Swizzle::kNone) {
  uint64_t d = 0;
  d |= static_cast<uint64_t>((smem_address >> 4) & 0x3FFF);
  d |= static_cast<uint64_t>((leading_bytes >> 4) & 0x3FFF) << 16;
  d |= static_cast<uint64_t>((stride_bytes >> 4) & 0x3FFF) << 32;
  d |= static_cast<uint64_t>(swizzle) << 62;
  return d;
}
__device__ __forceinline__ uint64_t smem_descriptor(const void* smem, uint32_t leading_bytes, uint32_t stride_bytes) {
  return smem_descriptor(static_cast<uint32_t>(__cvta_generic_to_shared(smem)), leading_bytes, stride_bytes);
}
// The descriptor of the same layout `bytes` further on in shared memory (a k-step, the next panel or stage):
// only the start address field (bits 0-13, address >> 4) changes, and with shared memory below 256 KiB the sum
// never carries out of it, so one 32-bit add replaces rebuilding the descriptor (which ptxas otherwise does with
// five or more instructions before every wgmma of a hot loop).
__device__ __forceinline__ uint64_t descriptor_plus(uint64_t descriptor, uint32_t bytes) {
  const uint32_t lo = static_cast<uint32_t>(descriptor) + (bytes >> 4), hi = static_cast<uint32_t>(descriptor >> 32);
  uint64_t d;
  asm("mov.b64 %0, {%1, %2};" : "=l"(d) : "r"(lo), "r"(hi));
  return d;
}

// Makes the generic-proxy writes of this thread to shared memory (ordinary stores) visible to the async proxy
// (wgmma operand reads, TMA) (PTX ISA 9.7.12.4 "membar/fence", fence.proxy.async). Each writing thread issues it
// before the barrier that precedes the wgmma.
__device__ __forceinline__ void fence_proxy_async_shared() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

// Orders register and shared-memory accesses before the wgmma that follows (PTX ISA 9.7.15.6.1 wgmma.fence).
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
// Commits the wgmma operations issued so far into one group (PTX ISA 9.7.15.6.2 wgmma.commit_group).
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
// Waits until at most N groups are pending (PTX ISA 9.7.15.6.3 wgmma.wait_group); accumulators are read only
// after this.
template <int N>
__device__ __forceinline__ void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }

#define SAGEVAL_F8(i) "+f"(d[i + 0]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), \
                      "+f"(d[i + 6]), "+f"(d[i + 7])
#define SAGEVAL_R8(i) "+r"(d[i + 0]), "+r"(d[i + 1]), "+r"(d[i + 2]), "+r"(d[i + 3]), "+r"(d[i + 4]), "+r"(d[i + 5]), \
                      "+r"(d[i + 6]), "+r"(d[i + 7])

// D[64 x 128] (+)= A[64 x 32] . B[128 x 32]^T with INT8 operands from shared memory (both K-major) and INT32
// accumulators in registers (PTX ISA 9.7.15.5 wgmma.mma_async, .s32.s8.s8, shape m64n128k32). Issued by one
// warpgroup (128 threads). Accumulator layout (PTX ISA 9.7.15.5.1, "Register Fragments", the m64nNk32 .s32
// case): warp w of the warpgroup holds rows 16w..16w+15; for n-block j (8 columns), thread lane holds
// d[4j + 0..1] at row 16w + lane/4, columns 8j + 2*(lane%4) + {0, 1}, and d[4j + 2..3] eight rows further down.
// `accumulate` false overwrites D (scale-d = 0), true adds to it.
__device__ __forceinline__ void wgmma_m64n128k32_s8(int32_t (&d)[64], uint64_t desc_a, uint64_t desc_b, bool accumulate) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
      "%64, %65, p;\n"
      "}\n"
      : SAGEVAL_R8(0), SAGEVAL_R8(8), SAGEVAL_R8(16), SAGEVAL_R8(24), SAGEVAL_R8(32), SAGEVAL_R8(40), SAGEVAL_R8(48),
        SAGEVAL_R8(56)
      : "l"(desc_a), "l"(desc_b), "r"(static_cast<int32_t>(accumulate)));
}

// The first k-step of an INT8 product: D = A . B^T (scale-d = 0) with D declared as output only, so that the
// compiler does not keep the previous contents of D alive into this product.
#define SAGEVAL_W8(i) "=r"(d[i + 0]), "=r"(d[i + 1]), "=r"(d[i + 2]), "=r"(d[i + 3]), "=r"(d[i + 4]), "=r"(d[i + 5]), \
                      "=r"(d[i + 6]), "=r"(d[i + 7])
__device__ __forceinline__ void wgmma_m64n128k32_s8_first(int32_t (&d)[64], uint64_t desc_a, uint64_t desc_b) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, 0, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
      "%64, %65, p;\n"
      "}\n"
      : SAGEVAL_W8(0), SAGEVAL_W8(8), SAGEVAL_W8(16), SAGEVAL_W8(24), SAGEVAL_W8(32), SAGEVAL_W8(40), SAGEVAL_W8(48),
        SAGEVAL_W8(56)
      : "l"(desc_a), "l"(desc_b));
}
#undef SAGEVAL_W8

// D[64 x 128] (+)= A[64 x 16] . B[128 x 16]^T with FP16 A in registers, FP16 B from shared memory (K-major) and
// FP32 accumulators (PTX ISA 9.7.15.5 wgmma.mma_async, .f32.f16.f16, shape m64n128k16, A from registers: the
// P.V product of attention, P never leaving registers). A fragment (PTX ISA 9.7.15.5.1, "Register Fragments",
// .f16 A of m64nNk16): warp w holds rows 16w..16w+15; with g = lane / 4 and t = lane % 4, a[0] packs (row g,
// columns 2t, 2t+1), a[1] (row g + 8, same columns), a[2] (row g, columns 2t+8, 2t+9), a[3] (row g + 8, those).
// Accumulators as for the INT8 product. imm-scale-a/b = 1 (no negation), imm-trans-b = 0 (B K-major).
__device__ __forceinline__ void wgmma_m64n128k16_f16_rs(float (&d)[64], const uint32_t (&a)[4], uint64_t desc_b,
                                                        bool accumulate) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %69, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
      "{%64, %65, %66, %67}, %68, p, 1, 1, 0;\n"
      "}\n"
      : SAGEVAL_F8(0), SAGEVAL_F8(8), SAGEVAL_F8(16), SAGEVAL_F8(24), SAGEVAL_F8(32), SAGEVAL_F8(40), SAGEVAL_F8(48),
        SAGEVAL_F8(56)
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(static_cast<int32_t>(accumulate)));
}

// The P.V products of attention with V as it lies in memory: B = V^T is N-major (D contiguous), imm-trans-b = 1
// (PTX ISA 9.7.15.5.1.2, "Shared Memory Matrix Layout": 16-bit B may be MN-major). Otherwise as above; N = 128
// or 64 (the head dim).
__device__ __forceinline__ void wgmma_m64n128k16_f16_rs_nmajor(float (&d)[64], const uint32_t (&a)[4], uint64_t desc_b) {
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
      "{%64, %65, %66, %67}, %68, 1, 1, 1, 1;\n"
      : SAGEVAL_F8(0), SAGEVAL_F8(8), SAGEVAL_F8(16), SAGEVAL_F8(24), SAGEVAL_F8(32), SAGEVAL_F8(40), SAGEVAL_F8(48),
        SAGEVAL_F8(56)
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b));
}
__device__ __forceinline__ void wgmma_m64n64k16_f16_rs_nmajor(float (&d)[32], const uint32_t (&a)[4], uint64_t desc_b) {
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
      "{%32, %33, %34, %35}, %36, 1, 1, 1, 1;\n"
      : SAGEVAL_F8(0), SAGEVAL_F8(8), SAGEVAL_F8(16), SAGEVAL_F8(24)
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b));
}

// The same with 8 more columns (N = 136 for D = 128, N = 72 for D = 64): the P.V product also multiplies P by a
// panel of ones, so the accumulator's last 8 columns carry the row sums of P, computed and rescaled with O on the
// tensor cores instead of by the softmax's ALU instructions.
__device__ __forceinline__ void wgmma_m64n136k16_f16_rs_nmajor(float (&d)[68], const uint32_t (&a)[4], uint64_t desc_b) {
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n136k16.f32.f16.f16 "
      "{"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
      "%64, %65, %66, %67"
      "}, "
      "{%68, %69, %70, %71}, %72, 1, 1, 1, 1;\n"
      : SAGEVAL_F8(0), SAGEVAL_F8(8), SAGEVAL_F8(16), SAGEVAL_F8(24), SAGEVAL_F8(32), SAGEVAL_F8(40), SAGEVAL_F8(48), SAGEVAL_F8(56), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b));
}
__device__ __forceinline__ void wgmma_m64n72k16_f16_rs_nmajor(float (&d)[36], const uint32_t (&a)[4], uint64_t desc_b) {
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n72k16.f32.f16.f16 "
      "{"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35"
      "}, "
      "{%36, %37, %38, %39}, %40, 1, 1, 1, 1;\n"
      : SAGEVAL_F8(0), SAGEVAL_F8(8), SAGEVAL_F8(16), SAGEVAL_F8(24), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b));
}

#undef SAGEVAL_R8
#undef SAGEVAL_F8

// mbarrier (PTX ISA 9.7.13.15): initialised with an arrival count; a TMA copy completes on it by bytes
// (complete_tx) after one thread has announced them (arrive.expect_tx); waiters spin on try_wait.parity of the
// phase they expect (0, 1, 0, ... as the barrier is reused).
__device__ __forceinline__ uint32_t smem_address(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }
__device__ __forceinline__ void mbarrier_init(uint64_t* bar, uint32_t arrivals) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_address(bar)), "r"(arrivals) : "memory");
}
// Makes an initialised mbarrier visible to the async proxy (the TMA unit) (PTX ISA 9.7.13.4, fence.mbarrier_init).
__device__ __forceinline__ void fence_mbarrier_init() { asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory"); }
__device__ __forceinline__ void mbarrier_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_address(bar)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbarrier_wait(uint64_t* bar, uint32_t phase) {
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "WAIT_%=:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT_%=;\n"
      "}\n" ::"r"(smem_address(bar)),
      "r"(phase)
      : "memory");
}

// TMA: a 2-D box from global memory, described by a tensor map (made on the host with cuTensorMapEncodeTiled and
// passed as a __grid_constant__ kernel parameter), into shared memory, completing on an mbarrier; coordinates are
// elements, innermost first; a box reaching past the tensor is filled with zeros (PTX ISA 9.7.9.25.5.1,
// cp.async.bulk.tensor).
__device__ __forceinline__ void tma_load_2d(void* smem, const void* tensor_map, uint64_t* bar, int32_t inner, int32_t outer) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], [%2];\n" ::"r"(
          smem_address(smem)),
      "l"(tensor_map), "r"(smem_address(bar)), "r"(inner), "r"(outer)
      : "memory");
}

__device__ __forceinline__ void tma_load_3d(void* smem, const void* tensor_map, uint64_t* bar, int32_t c0, int32_t c1,
                                            int32_t c2) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5}], [%2];\n" ::"r"(
          smem_address(smem)),
      "l"(tensor_map), "r"(smem_address(bar)), "r"(c0), "r"(c1), "r"(c2)
      : "memory");
}
__device__ __forceinline__ void tma_load_4d(void* smem, const void* tensor_map, uint64_t* bar, int32_t c0, int32_t c1,
                                            int32_t c2, int32_t c3) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5, %6}], [%2];\n" ::"r"(
          smem_address(smem)),
      "l"(tensor_map), "r"(smem_address(bar)), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
      : "memory");
}

// A plain arrival (PTX ISA 9.7.13.15.13, mbarrier.arrive): consumers release a pipeline stage with it.
__device__ __forceinline__ void mbarrier_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_address(bar)) : "memory");
}

// Moves registers between the warpgroups of a CTA (PTX ISA 9.7.19.x, "setmaxnreg"): the producer warpgroup, which
// only issues TMA copies, gives registers back so the consumer warpgroups can hold their accumulators. Executed by
// every thread of a warpgroup; N is a multiple of 8 in [24, 256].
template <int N>
__device__ __forceinline__ void setmaxnreg_dec() { asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N)); }
template <int N>
__device__ __forceinline__ void setmaxnreg_inc() { asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N)); }

// Pins registers a wgmma uses at this point of the program: the compiler may not move their reads or writes across
// it. Placed after wgmma.wait_group, before the accumulators are touched (the compiler does not see the
// asynchronous writes of an in-flight wgmma), and on accumulators and A fragments just written, before the
// wgmma.fence and the wgmma that reads them.
// T: float (FP32 accumulators), int32_t (INT32 accumulators) or uint32_t (packed fp16 A fragments).
template <typename T, int N>
__device__ __forceinline__ void fence_operands(T (&r)[N]) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, int32_t> || std::is_same_v<T, uint32_t>,
                "wgmma operands are float, int32_t or uint32_t registers");
#pragma unroll
  for (int i = 0; i < N; ++i) {
    if constexpr (std::is_same_v<T, float>) asm volatile("" : "+f"(r[i])::"memory");
    else asm volatile("" : "+r"(r[i])::"memory");
  }
}

// A named barrier (PTX ISA 9.7.13.1, bar.sync) over `threads` threads: the attention kernel syncs its consumer
// warpgroups with one once the ones panels are written (the producer warpgroup is not counted: it issues its
// copies meanwhile).
__device__ __forceinline__ void named_barrier_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

#endif  // __CUDA_ARCH_FEAT_SM90_ALL

}  // namespace sageval::kernels::sm90
