// `py:MODULE:FUNCTION`: an attention backend written in Python (thu-ml SageAttention, FlashInfer, a Triton kernel,
// a plain torch function), run through an embedded interpreter (pybind11) with tensors handed over both ways
// without copies through DLPack. The function's declared capabilities (python/sageval_adapters/__init__.py) are
// validated like any backend's; its output is checked (shape, dtype, device, finite values, the LSE's shape) and
// every failure names the backend: a Python exception becomes an error carrying its type and message.
//
// The interpreter is started on first use and never finalized (libtorch's and torch's Python state both live to
// the end of the process); between calls the GIL is released, so any thread may call.
#include "backends/backend_factories.h"

#ifdef SAGEVAL_WITH_PYTHON
#include <pybind11/embed.h>
#include <pybind11/stl.h>

#include <ATen/DLConvertor.h>
#include <torch/version.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>

namespace sageval::detail {
namespace {

namespace py = pybind11;

void start_interpreter() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (Py_IsInitialized() == 0) {
      // No Python signal handlers: Ctrl-C and SIGPIPE keep their usual effect on the C++ program.
      py::initialize_interpreter(/*init_signal_handlers=*/false);
      // The bundled adapters (python/sageval_adapters) and the site directory of the torch found at configure time
      // (a virtual environment's is not on the embedded interpreter's default path) come first.
      py::object path = py::module_::import("sys").attr("path");
      path.attr("insert")(0, SAGEVAL_PYTHON_TORCH_SITE);
      path.attr("insert")(0, SAGEVAL_PYTHON_DIR);
      PyEval_SaveThread();  // release the GIL; every call takes it with gil_scoped_acquire
    }
  });
}

// "TypeError: message" of the Python exception being handled.
std::string python_error(const py::error_already_set& e) {
  return fmt::format("{}: {}", py::str(e.type().attr("__name__")).cast<std::string>(), py::str(e.value()).cast<std::string>());
}

py::object to_python(const at::Tensor& t) {  // may raise py::error_already_set: callers name the backend
  DLManagedTensor* managed = at::toDLPack(t);
  py::capsule capsule(managed, "dltensor", [](PyObject* o) {
    // Still named "dltensor": nobody consumed it, so its deleter is ours to call.
    if (PyCapsule_IsValid(o, "dltensor") != 0) {
      auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(o, "dltensor"));
      if (m->deleter != nullptr) m->deleter(m);
    }
  });
  return py::module_::import("torch.utils.dlpack").attr("from_dlpack")(capsule);
}

at::Tensor from_python(const py::handle& tensor, const std::string& backend, const char* what) {
  const py::module_ torch = py::module_::import("torch");
  if (!py::isinstance(tensor, torch.attr("Tensor")))
    throw std::invalid_argument(fmt::format("{}: the {} returned is a {}, not a torch.Tensor", backend, what,
                                            py::str(tensor.get_type().attr("__name__")).cast<std::string>()));
  py::object capsule;
  try {
    capsule = py::module_::import("torch.utils.dlpack").attr("to_dlpack")(tensor);
  } catch (const py::error_already_set& e) {  // e.g. a tensor that requires grad
    throw std::invalid_argument(fmt::format("{}: the {} could not be handed over (DLPack): {}", backend, what, python_error(e)));
  }
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
  if (managed == nullptr) {
    PyErr_Clear();  // no Python error may stay pending for the next call
    throw std::runtime_error(fmt::format("{}: the {} could not be handed over (DLPack)", backend, what));
  }
  PyCapsule_SetName(capsule.ptr(), "used_dltensor");  // ownership moves to the at::Tensor
  return at::fromDLPack(managed);
}

at::ScalarType dtype_named(const std::string& name, const std::string& backend) {
  if (name == "float16") return at::kHalf;
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "float32") return at::kFloat;
  if (name == "float64") return at::kDouble;
  throw std::invalid_argument(fmt::format("{}: capabilities name dtype '{}' (expected float16, bfloat16, float32, float64)",
                                          backend, name));
}

class PythonBackend final : public AttentionBackend {
 public:
  explicit PythonBackend(const std::string& name) : name_(name) {
    const size_t colon = name.find(':', 3);
    const std::string module = name.substr(3, colon - 3), function = name.substr(colon + 1);
    start_interpreter();
    py::gil_scoped_acquire gil;
    check_torch_version();
    py::module_ m;
    try {
      m = py::module_::import(module.c_str());
    } catch (const py::error_already_set& e) {
      throw std::invalid_argument(fmt::format("{}: cannot import module '{}': {}", name_, module, python_error(e)));
    }
    if (!py::hasattr(m, function.c_str()))
      throw std::invalid_argument(fmt::format("{}: module '{}' has no '{}'", name_, module, function));
    // Held in a local until every check passed: a throwing constructor never runs the destructor, which is what
    // releases fn_ under the GIL, while locals are released here, still under it.
    py::object fn = m.attr(function.c_str());
    if (!py::hasattr(fn, "sageval_capabilities"))
      throw std::invalid_argument(fmt::format("{}: '{}' declares no sageval_capabilities (decorate it with "
                                              "sageval_adapters.capabilities)", name_, function));
    read_capabilities(fn.attr("sageval_capabilities"));
    py::object unsupported;  // sageval_adapters.Unsupported; None if that package cannot be imported
    try {
      unsupported = py::module_::import("sageval_adapters").attr("Unsupported");
    } catch (const py::error_already_set&) {
      unsupported = py::none();
    }
    fn_ = std::move(fn);
    unsupported_ = std::move(unsupported);
  }
  ~PythonBackend() override {
    py::gil_scoped_acquire gil;
    fn_ = py::object();
    unsupported_ = py::object();
  }
  PythonBackend(const PythonBackend&) = delete;
  PythonBackend& operator=(const PythonBackend&) = delete;

  std::string name() const override { return name_; }
  BackendCapabilities capabilities() const override { return caps_; }

 protected:
  AttentionOutput forward_hnd(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                              const HndOptions& o) const override {
    py::gil_scoped_acquire gil;
    py::object result;
    try {
      result = fn_(to_python(q), to_python(k), to_python(v), py::arg("causal") = o.causal, py::arg("sm_scale") = o.sm_scale,
                   py::arg("return_lse") = o.return_lse);
    } catch (const py::error_already_set& e) {
      // sageval_adapters.Unsupported is an adapter's way of declaring inputs its library does not compute; any other
      // exception, NotImplementedError from torch or a library's internals included, is a failure.
      if (!unsupported_.is_none() && e.matches(unsupported_)) throw UnsupportedInput(fmt::format("Python raised {}", python_error(e)));  // named by forward()
      throw std::runtime_error(fmt::format("{}: Python raised {}", name_, python_error(e)));
    }
    AttentionOutput out;
    if (o.return_lse) {
      if (!py::isinstance<py::tuple>(result) || py::len(result) != 2)
        throw std::invalid_argument(fmt::format("{}: asked for the log-sum-exp, it returned no (output, lse) pair", name_));
      out.out = from_python(result.cast<py::tuple>()[0], name_, "output");
      out.lse = from_python(result.cast<py::tuple>()[1], name_, "log-sum-exp");
    } else {
      out.out = from_python(result, name_, "output");
    }
    check(out.out, q.sizes(), q.scalar_type(), q.device(), "output");
    if (o.return_lse) check(out.lse, {q.size(0), q.size(1), q.size(2)}, at::kFloat, q.device(), "log-sum-exp");
    if (o.check_output && !at::isfinite(out.out).all().item<bool>())
      throw std::runtime_error(fmt::format("{}: the output holds NaN or Inf", name_));
    return out;
  }

 private:
  void check(const at::Tensor& t, at::IntArrayRef sizes, at::ScalarType dtype, const at::Device& device, const char* what) const {
    if (!t.sizes().equals(sizes))
      throw std::invalid_argument(fmt::format("{}: the {} has shape [{}], expected [{}]", name_, what, fmt::join(t.sizes(), ", "),
                                              fmt::join(sizes, ", ")));
    if (t.scalar_type() != dtype)
      throw std::invalid_argument(fmt::format("{}: the {} is {}, expected {}", name_, what, c10::toString(t.scalar_type()),
                                              c10::toString(dtype)));
    if (t.device() != device)
      throw std::invalid_argument(fmt::format("{}: the {} is on {}, expected {}", name_, what, t.device().str(), device.str()));
  }

  // The torch the interpreter imports must be the libtorch this program links (tensors cross over DLPack into
  // it): same major.minor, or a named error.
  void check_torch_version() const {
    std::string version;
    try {
      version = py::str(py::module_::import("torch").attr("__version__")).cast<std::string>();
    } catch (const py::error_already_set& e) {
      throw std::invalid_argument(fmt::format("{}: the embedded Python cannot import torch: {}", name_, python_error(e)));
    }
    const std::string linked = fmt::format("{}.{}.", TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR);
    if (version.rfind(linked, 0) != 0)
      throw std::invalid_argument(fmt::format("{}: the embedded Python imports torch {}, this program links libtorch {}.{}",
                                              name_, version, TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR));
  }

  void read_capabilities(const py::handle& caps) {
    try {
      const auto d = caps.cast<py::dict>();
      for (const auto& dtype : d["dtypes"].cast<std::vector<std::string>>()) caps_.dtypes.push_back(dtype_named(dtype, name_));
      for (const auto& device : d["devices"].cast<std::vector<std::string>>()) {
        if (device == "cpu") caps_.cpu = true;
        else if (device == "cuda") caps_.cuda = true;
        else throw std::invalid_argument(fmt::format("{}: capabilities name device '{}' (expected cpu, cuda)", name_, device));
      }
      caps_.head_dims = d["head_dims"].cast<std::vector<int>>();
      caps_.lse = d["lse"].cast<bool>();
      caps_.causal = d["causal"].cast<bool>();
      caps_.gqa = d["gqa"].cast<bool>();
      caps_.gates = d["gates"].cast<std::string>();
      if (!caps_.gates.empty() && caps_.gates != "fp16" && caps_.gates != "sage_int8")
        throw std::invalid_argument(fmt::format("{}: capabilities name gates '{}' (expected fp16, sage_int8 or empty)", name_, caps_.gates));
      const std::string library = d["library"].cast<std::string>();
      caps_.description = d["description"].cast<std::string>() + (library.empty() ? "" : " [" + library + "]");
    } catch (const py::error_already_set& e) {
      throw std::invalid_argument(fmt::format("{}: malformed sageval_capabilities: {}", name_, python_error(e)));
    } catch (const py::cast_error& e) {
      throw std::invalid_argument(fmt::format("{}: malformed sageval_capabilities: {}", name_, e.what()));
    }
  }

  std::string name_;
  py::object fn_;
  py::object unsupported_;
  BackendCapabilities caps_;
};

}  // namespace

std::unique_ptr<AttentionBackend> make_python_backend(const std::string& name) {
  return std::make_unique<PythonBackend>(name);
}

std::string python_backends_unavailable() { return {}; }

}  // namespace sageval::detail

#else  // no embedded Python in this build

#include <stdexcept>

namespace sageval::detail {

std::string python_backends_unavailable() {
  return "this build has no embedded Python (SAGEVAL_WITH_PYTHON=OFF, or CMake found no Python with torch and "
         "pybind11: Debian python3-dev, python3-torch, pybind11-dev)";
}

std::unique_ptr<AttentionBackend> make_python_backend(const std::string& name) {
  throw std::invalid_argument(name + ": " + python_backends_unavailable());
}

}  // namespace sageval::detail

#endif
