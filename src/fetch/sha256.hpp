#pragma once
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

// OpenSSL's context type, forward-declared so its headers stay out of everything that includes ours.
struct evp_md_ctx_st;

namespace ibdriver::fetch {

// SHA-256 fed as bytes arrive (OpenSSL EVP); every EVP return value is checked.
class Sha256 {
 public:
  Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  ~Sha256();

  void update(const void* data, std::size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  // The lower-case hex digest; the object is then reset for a new stream.
  std::string finish();
  void reset();

 private:
  struct Deleter {
    void operator()(evp_md_ctx_st* context) const noexcept;
  };
  std::unique_ptr<evp_md_ctx_st, Deleter> context_;
};

// Hashes a file (reading it once, in large blocks). Throws FileError.
std::string sha256_of_file(const std::filesystem::path& file);
// Hashes the first `bytes` bytes of a file into `hash` (to resume a partial download across runs).
void hash_file_prefix(const std::filesystem::path& file, std::uint64_t bytes, Sha256& hash);

}  // namespace ibdriver::fetch
