#include "core/openssl.hpp"

#include <array>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "core/error.hpp"

namespace ibdriver::openssl {

std::string error_text() {
  std::string reasons;
  while (unsigned long code = ERR_get_error()) {
    std::array<char, 256> buffer{};
    ERR_error_string_n(code, buffer.data(), buffer.size());
    if (!reasons.empty()) reasons += "; ";
    reasons += buffer.data();
  }
  return reasons.empty() ? std::string("unknown OpenSSL error") : reasons;
}

Bio memory_bio(const std::string& bytes) {
  Bio bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
  if (!bio) throw Error(ExitCode::operation_failed, "OpenSSL cannot allocate a buffer: " + error_text());
  return bio;
}

Pkey parse_private_key(const std::string& bytes) {
  Pkey key(PEM_read_bio_PrivateKey(memory_bio(bytes).get(), nullptr, nullptr, nullptr));
  if (!key) key.reset(d2i_PrivateKey_bio(memory_bio(bytes).get(), nullptr));
  ERR_clear_error();
  return key;
}

Certificate parse_certificate(const std::string& bytes, bool& der) {
  Certificate certificate(d2i_X509_bio(memory_bio(bytes).get(), nullptr));
  der = certificate != nullptr;
  if (!certificate) certificate.reset(PEM_read_bio_X509(memory_bio(bytes).get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return certificate;
}

}  // namespace ibdriver::openssl
