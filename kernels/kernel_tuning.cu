// Storage and lookup of the benchmark-only warp-rows knob (see kernel_tuning.h). No device code.
#include "kernel_tuning.h"

#include <stdexcept>
#include <string>

namespace sageval::kernels {
namespace {
int g_override = 0;
}

void set_warp_rows_override(int rows_per_warp) {
  if (rows_per_warp != 0 && rows_per_warp != 16 && rows_per_warp != 32) {
    throw std::runtime_error("set_warp_rows_override: rows must be 0, 16 or 32, got " + std::to_string(rows_per_warp));
  }
  g_override = rows_per_warp;
}

int warp_rows_for(int head_dim, bool int8_kernel) {
  if (g_override != 0) return g_override;
  (void)head_dim;
  (void)int8_kernel;
  return 32;  // default chosen from the H100 measurements (scripts/device/NOTES.md)
}

}  // namespace sageval::kernels
