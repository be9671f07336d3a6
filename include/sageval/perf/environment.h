// What a reader needs to trust a figure: the device, its clocks, driver, CUDA and libtorch versions, the
// compiler and the build, recorded with every benchmark run and shown in the report.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace sageval::perf {

// Always has "libtorch", "compiler", "build_type", "cuda_device" (bool); with a GPU also "gpu": name, compute
// capability, SM count, peak SM and memory clocks, bus width, L2 and global memory, CUDA runtime and driver.
nlohmann::json environment_info();

// One line for benchmark headers: "NVIDIA H100 80GB HBM3 (sm_90), 132 SMs, ..." or "CPU only".
std::string describe_device(const nlohmann::json& environment);

}  // namespace sageval::perf
