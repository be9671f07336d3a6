// Benchmark-only knob of the attention kernels (not part of the library contract): how many query rows one
// warp owns. 16: 8 warps x 16 rows per 128-row CTA; 32: 4 warps x 32 rows (each K/V shared-memory fragment
// feeds two MMAs). 0 restores the built-in default. Not thread-safe; set it before launching.
#pragma once

namespace sageval::kernels {

void set_warp_rows_override(int rows_per_warp);
int warp_rows_for(int head_dim, bool int8_kernel);

}  // namespace sageval::kernels
