// SHA-256 (FIPS 180-4), written for this project: the project's dependencies are fixed, so the data-set
// registry checks its files with this streaming implementation rather than a hashing library.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace sageval::data {

class Sha256 {
 public:
  Sha256();
  // Feeds `size` bytes; any split of a message into update() calls gives the same digest.
  void update(const void* data, size_t size);
  void update(const std::string& text) { update(text.data(), text.size()); }
  // The digest as 64 lower-case hex digits. Finishes the message: the object is reset afterwards.
  std::string hex_digest();

 private:
  void reset();
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> state_{};
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

// SHA-256 of a whole string, as hex.
std::string sha256_hex(const std::string& bytes);

// SHA-256 of a file's bytes, read in 1 MiB chunks. Throws std::runtime_error naming the file when it cannot be
// opened or read.
std::string sha256_file(const std::string& path);

}  // namespace sageval::data
