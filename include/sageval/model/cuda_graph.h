// A piece of CUDA work captured once as a CUDA graph and replayed, as serving engines run their decode steps: one
// launch instead of one per kernel, so a step costs what the GPU does, not what the host takes to launch it.
// Used by LlamaModel::decode (one graph per cache and key bucket) and by the model benchmark (the attention calls
// of a decode step alone). Builds without CUDA have the type but constructing it throws.
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include <ATen/ATen.h>

namespace sageval::model {

// A memory pool graphs may share when they are replayed one at a time (their outputs stay alive, their
// intermediates overlap only in address, never in time).
using GraphPool = std::pair<unsigned long long, unsigned long long>;
GraphPool new_graph_pool();  // throws where this build has no CUDA

class CapturedCall {
 public:
  // Runs `fn` once on a side stream (the warm-up: library handles, kernel attributes, allocations), then
  // captures a second call into a graph whose allocations come from `pool`. The side stream waits for the
  // current stream first, so work queued before (a prefill filling a cache) is seen. `fn` must not synchronize
  // with the host. The tensor it returns is the graph's output buffer: each replay overwrites it.
  CapturedCall(const std::function<at::Tensor()>& fn, GraphPool pool);
  ~CapturedCall();
  CapturedCall(const CapturedCall&) = delete;
  CapturedCall& operator=(const CapturedCall&) = delete;

  // Launches the graph on the current stream; returns the output buffer.
  const at::Tensor& replay();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sageval::model
