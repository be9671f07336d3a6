// cuTensorMapEncodeTiled through cudaGetDriverEntryPoint (see tensor_map.h). Host code only.
#include "tensor_map.h"

#include <cudaTypedefs.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "sageval/kernels/cuda_check.h"

namespace sageval::kernels {
namespace {

PFN_cuTensorMapEncodeTiled_v12000 encode_tiled() {
  static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult found{};
#if CUDART_VERSION >= 12050
    SAGEVAL_CUDA_CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &found));
#else
    SAGEVAL_CUDA_CHECK(cudaGetDriverEntryPoint("cuTensorMapEncodeTiled", &f, cudaEnableDefault, &found));
#endif
    if (f == nullptr || found != cudaDriverEntryPointSuccess)
      throw std::runtime_error("cuTensorMapEncodeTiled is not available from this driver");
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(f);
  }();
  return fn;
}

uint32_t element_bytes(CUtensorMapDataType type) {
  switch (type) {
    case CU_TENSOR_MAP_DATA_TYPE_UINT8: return 1;
    case CU_TENSOR_MAP_DATA_TYPE_UINT16:
    case CU_TENSOR_MAP_DATA_TYPE_FLOAT16:
    case CU_TENSOR_MAP_DATA_TYPE_BFLOAT16: return 2;
    case CU_TENSOR_MAP_DATA_TYPE_FLOAT32: return 4;
    default: throw std::invalid_argument("make_tensor_map: unsupported element type " + std::to_string(type));
  }
}

uint32_t swizzle_span(CUtensorMapSwizzle s) {
  switch (s) {
    case CU_TENSOR_MAP_SWIZZLE_32B: return 32;
    case CU_TENSOR_MAP_SWIZZLE_64B: return 64;
    case CU_TENSOR_MAP_SWIZZLE_128B: return 128;
    default: return 0;
  }
}

}  // namespace

CUtensorMap make_tensor_map(const char* what, CUtensorMapDataType type, const void* base,
                            const std::vector<uint64_t>& dims, const std::vector<uint64_t>& stride_bytes,
                            const std::vector<uint32_t>& box, CUtensorMapSwizzle swizzle) {
  const std::string who = std::string("tensor map of ") + what + ": ";
  const size_t rank = dims.size();
  if (rank < 1 || rank > 5 || stride_bytes.size() + 1 != rank || box.size() != rank)
    throw std::invalid_argument(who + "needs 1-5 dims, one stride fewer and a box of the same rank");
  if (reinterpret_cast<uintptr_t>(base) % 16 != 0) throw std::invalid_argument(who + "base address is not 16-byte aligned");
  for (size_t i = 0; i < stride_bytes.size(); ++i)
    if (stride_bytes[i] % 16 != 0 || stride_bytes[i] >= (uint64_t{1} << 40))
      throw std::invalid_argument(who + "stride " + std::to_string(stride_bytes[i]) + " of dim " + std::to_string(i + 1) +
                                  " is not a multiple of 16 bytes below 2^40");
  for (size_t i = 0; i < rank; ++i)
    if (box[i] < 1 || box[i] > 256 || dims[i] < 1)
      throw std::invalid_argument(who + "box " + std::to_string(box[i]) + " or size " + std::to_string(dims[i]) +
                                  " of dim " + std::to_string(i) + " out of range");
  const uint32_t inner_bytes = box[0] * element_bytes(type);
  if (inner_bytes % 16 != 0 || (swizzle_span(swizzle) != 0 && inner_bytes > swizzle_span(swizzle)))
    throw std::invalid_argument(who + "innermost box of " + std::to_string(inner_bytes) +
                                " bytes does not fit the swizzle span or is not a multiple of 16");
  std::vector<cuuint64_t> d(dims.begin(), dims.end()), s(stride_bytes.begin(), stride_bytes.end());
  std::vector<cuuint32_t> b(box.begin(), box.end()), e(rank, 1);
  CUtensorMap map{};
  const CUresult r = encode_tiled()(&map, type, static_cast<cuuint32_t>(rank), const_cast<void*>(base), d.data(),
                                    s.data(), b.data(), e.data(), CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle,
                                    CU_TENSOR_MAP_L2_PROMOTION_L2_128B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) throw std::runtime_error(who + "cuTensorMapEncodeTiled failed with CUresult " + std::to_string(r));
  return map;
}

}  // namespace sageval::kernels
