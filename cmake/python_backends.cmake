# py:MODULE:FUNCTION attention backends (src/backends/python_backend.cpp) embed a Python interpreter through
# pybind11. The interpreter must be one whose torch is the libtorch linked here (same major.minor), so that
# tensors cross over DLPack into the same library: the Python named by Python3_EXECUTABLE, else python3 on the
# PATH (pip torch), else /usr/bin/python3 (Debian's python3-torch). Without one (or without pybind11), the
# build goes on without py: backends, and says so.
option(SAGEVAL_WITH_PYTHON "py:MODULE:FUNCTION attention backends through an embedded Python (pybind11)" ON)
set(SAGEVAL_PYTHON_FOUND OFF)
if(SAGEVAL_WITH_PYTHON)
  find_program(SAGEVAL_PATH_PYTHON3 python3)
  set(sageval_python_candidates ${Python3_EXECUTABLE} ${SAGEVAL_PATH_PYTHON3} /usr/bin/python3)
  string(REGEX MATCH "^[0-9]+\\.[0-9]+" sageval_torch_mm "${Torch_VERSION}")
  set(sageval_python_why "no python3 whose torch is ${sageval_torch_mm} (tried: ${sageval_python_candidates})")
  foreach(py IN LISTS sageval_python_candidates)
    if(NOT EXISTS "${py}")
      continue()
    endif()
    execute_process(COMMAND "${py}" -c "import torch; print(torch.__version__)" OUTPUT_VARIABLE v RESULT_VARIABLE rc
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    string(REGEX MATCH "^[0-9]+\\.[0-9]+" mm "${v}")
    if(rc EQUAL 0 AND mm STREQUAL sageval_torch_mm)
      set(Python3_EXECUTABLE "${py}")
      find_package(Python3 COMPONENTS Interpreter Development.Embed QUIET)
      # pip's pybind11 (the GPU machine's image has it, not Debian's pybind11-dev) tells where its CMake files are.
      execute_process(COMMAND "${py}" -c "import pybind11; print(pybind11.get_cmake_dir())"
                      OUTPUT_VARIABLE sageval_pip_pybind11 OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      find_package(pybind11 CONFIG QUIET HINTS "${sageval_pip_pybind11}")
      execute_process(COMMAND "${py}" -c "import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))"
                      OUTPUT_VARIABLE SAGEVAL_PYTHON_TORCH_SITE OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
      unset(sageval_python_h CACHE)
      find_path(sageval_python_h Python.h PATHS ${Python3_INCLUDE_DIRS} NO_DEFAULT_PATH)
      if(Python3_FOUND AND pybind11_FOUND AND TARGET Python3::Python AND sageval_python_h)
        set(SAGEVAL_PYTHON_FOUND ON)
      else()
        set(sageval_python_why "${py} has torch ${v} but the Python headers or pybind11 are missing (Debian: python3-dev, pybind11-dev)")
      endif()
      break()
    endif()
  endforeach()
  if(SAGEVAL_PYTHON_FOUND)
    message(STATUS "sageval: py: backends through ${Python3_EXECUTABLE} (Python ${Python3_VERSION}, pybind11 ${pybind11_VERSION})")
  else()
    message(STATUS "sageval: no py: backends: ${sageval_python_why}")
  endif()
endif()
