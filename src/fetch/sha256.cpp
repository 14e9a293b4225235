#include "fetch/sha256.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/openssl.hpp"
#include "core/unique_fd.hpp"

namespace ibdriver::fetch {

namespace {
[[noreturn]] void openssl_failure(const char* call) {
  throw Error(ExitCode::operation_failed, fmt::format("OpenSSL {} failed: {}", call, openssl::error_text()),
              "the OpenSSL library may be broken or in a restricted (FIPS) mode without SHA-256");
}
}  // namespace

void Sha256::Deleter::operator()(evp_md_ctx_st* context) const noexcept { EVP_MD_CTX_free(context); }

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  if (!context_) openssl_failure("EVP_MD_CTX_new");
  reset();
}

Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;
Sha256::~Sha256() = default;

void Sha256::reset() {
  if (EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1) openssl_failure("EVP_DigestInit_ex");
}

void Sha256::update(const void* data, std::size_t size) {
  if (size == 0) return;
  if (EVP_DigestUpdate(context_.get(), data, size) != 1) openssl_failure("EVP_DigestUpdate");
}

std::string Sha256::finish() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context_.get(), digest.data(), &length) != 1) openssl_failure("EVP_DigestFinal_ex");
  if (length != 32) throw Error(ExitCode::operation_failed, fmt::format("SHA-256 digest has {} bytes", length));
  std::string hex;
  hex.reserve(64);
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  reset();
  return hex;
}

void hash_file_prefix(const std::filesystem::path& file, std::uint64_t bytes, Sha256& hash) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) throw FileError(ExitCode::operation_failed, "cannot open", file, errno);
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  std::vector<char> buffer(1 << 20);
  std::uint64_t left = bytes;
  while (left > 0) {
    auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buffer.size()));
    ssize_t got = ::read(fd.get(), buffer.data(), want);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw FileError(ExitCode::operation_failed, "cannot read", file, errno);
    }
    if (got == 0) {
      throw Error(ExitCode::operation_failed, fmt::format("{} ended {} bytes early", file.string(), left));
    }
    hash.update(buffer.data(), static_cast<std::size_t>(got));
    left -= static_cast<std::uint64_t>(got);
  }
}

std::string sha256_of_file(const std::filesystem::path& file) {
  std::error_code error;
  auto size = std::filesystem::file_size(file, error);
  if (error) throw FileError(ExitCode::operation_failed, "cannot read", file, error.value());
  Sha256 hash;
  hash_file_prefix(file, size, hash);
  return hash.finish();
}

}  // namespace ibdriver::fetch
