// The message of an exception as tables, records and one-line errors show it: a libtorch error (c10::Error)
// without the C++ backtrace its what() carries, any other exception's what().
#pragma once

#include <exception>
#include <string>

#include <c10/util/Exception.h>

namespace sageval {

inline std::string error_message(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) return c10_error->what_without_backtrace();
  return e.what();
}

}  // namespace sageval
