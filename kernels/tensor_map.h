// Tensor maps for TMA copies (cp.async.bulk.tensor), made on the host with the driver's cuTensorMapEncodeTiled.
// The function is fetched through the runtime's driver entry point, so nothing links libcuda directly.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <vector>

namespace sageval::kernels {

// A tiled tensor map over a strided tensor of `dims.size()` (1-5) dimensions, innermost first (dims[0] is
// contiguous); `stride_bytes[i]` is the distance between consecutive indices of dimension i + 1. `box` is the
// block one copy brings (innermost first); elements outside the tensor arrive as zeros. Throws
// std::invalid_argument naming `what` and the offending value when the driver's rules are broken (16-byte aligned
// base and strides, box sizes 1-256, box bytes of the innermost dimension within the swizzle span), and
// std::runtime_error when the driver refuses.
CUtensorMap make_tensor_map(const char* what, CUtensorMapDataType type, const void* base,
                            const std::vector<uint64_t>& dims, const std::vector<uint64_t>& stride_bytes,
                            const std::vector<uint32_t>& box, CUtensorMapSwizzle swizzle);

}  // namespace sageval::kernels
