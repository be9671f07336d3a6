// What every fuzz target shares. A reader may refuse any input, with an error that names what is wrong: a
// std::exception with a message. A JSON library exception escaping (it names no file or field), an exception of
// another kind, a crash, or a sanitizer report is a defect: the target aborts and libFuzzer keeps the input.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace sageval::fuzz {

// Runs `read`; returns normally when it succeeds or refuses the input properly, aborts otherwise.
template <typename Read>
void expect_clean_refusal(Read&& read) {
  try {
    read();
  } catch (const nlohmann::json::exception& e) {
    std::fprintf(stderr, "a JSON library error escaped the reader: %s\n", e.what());
    std::abort();
  } catch (const std::exception& e) {
    if (std::string(e.what()).empty()) {
      std::fprintf(stderr, "an error without a message\n");
      std::abort();
    }
  } catch (...) {
    std::fprintf(stderr, "an exception that is not a std::exception\n");
    std::abort();
  }
}

// The readers that take a path get the input through a file of this process's own.
inline std::string input_file(const uint8_t* data, size_t size, const char* name) {
  static const std::string dir = [] {
    const std::string d = "/tmp/sageval_fuzz_" + std::to_string(::getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  const std::string path = dir + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

}  // namespace sageval::fuzz
