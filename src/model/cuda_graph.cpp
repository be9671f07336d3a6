#include "sageval/model/cuda_graph.h"

#include <stdexcept>

#ifdef SAGEVAL_WITH_CUDA_KERNELS
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace sageval::model {

#ifdef SAGEVAL_WITH_CUDA_KERNELS

struct CapturedCall::Impl {
  at::cuda::CUDAGraph graph;
  at::Tensor output;
};

GraphPool new_graph_pool() { return at::cuda::graph_pool_handle(); }

CapturedCall::CapturedCall(const std::function<at::Tensor()>& fn, GraphPool pool) : impl_(std::make_unique<Impl>()) {
  const c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream();
  // Capture needs a stream other than the legacy default one; it waits for what the current stream queued.
  const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(false, current.device_index());
  at::cuda::CUDAEvent queued;
  queued.record(current);
  queued.block(side);
  // However the capture ends, the current stream's later work (the first replay, readers of the output, or a
  // caller's fallback after a refusal) waits for what the side stream queued (the warm-up's writes).
  struct Rejoin {
    const c10::cuda::CUDAStream& side;
    const c10::cuda::CUDAStream& current;
    ~Rejoin() {
      try {
        at::cuda::CUDAEvent done;
        done.record(side);
        done.block(current);
      } catch (...) {  // a destructor must not throw; the CUDA error shows at the next call
      }
    }
  } rejoin{side, current};
  const c10::cuda::CUDAStreamGuard on_side(side);
  fn();  // warm-up, not captured
  impl_->graph.capture_begin(pool);
  try {
    impl_->output = fn();
  } catch (...) {
    try {
      impl_->graph.capture_end();  // leaves the stream's capture mode
    } catch (...) {  // an invalidated capture fails here too: the first error is the one to report
    }
    throw;
  }
  impl_->graph.capture_end();
}

const at::Tensor& CapturedCall::replay() {
  impl_->graph.replay();
  return impl_->output;
}

#else

struct CapturedCall::Impl {};

GraphPool new_graph_pool() { throw std::runtime_error("CUDA graphs: this build has no CUDA (libtorch without CUDA)"); }

CapturedCall::CapturedCall(const std::function<at::Tensor()>&, GraphPool) {
  throw std::runtime_error("CUDA graphs: this build has no CUDA (libtorch without CUDA)");
}

const at::Tensor& CapturedCall::replay() { throw std::runtime_error("CUDA graphs: this build has no CUDA"); }

#endif

CapturedCall::~CapturedCall() = default;

}  // namespace sageval::model
