#include "catalog/signature.hpp"

#include <memory>

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/error.hpp"
#include "core/files.hpp"

namespace ibdriver::catalog {

namespace {

struct BioDeleter {
  void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct DigestDeleter {
  void operator()(EVP_MD_CTX* context) const noexcept { EVP_MD_CTX_free(context); }
};
using KeyPointer = std::unique_ptr<EVP_PKEY, KeyDeleter>;

KeyPointer parse_public_key(std::string_view pem) {
  if (pem.size() > 64 * 1024) return nullptr;
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  return KeyPointer(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
}

bool verifies(std::string_view document, std::string_view signature, EVP_PKEY* key) {
  std::unique_ptr<EVP_MD_CTX, DigestDeleter> context(EVP_MD_CTX_new());
  if (!context) return false;
  // Ed25519 signs the message itself (no separate digest); EC and RSA sign its SHA-256.
  const EVP_MD* digest = EVP_PKEY_id(key) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
  if (EVP_DigestVerifyInit(context.get(), nullptr, digest, nullptr, key) != 1) return false;
  const auto* signature_bytes = reinterpret_cast<const unsigned char*>(signature.data());
  const auto* document_bytes = reinterpret_cast<const unsigned char*>(document.data());
  return EVP_DigestVerify(context.get(), signature_bytes, signature.size(), document_bytes, document.size()) == 1;
}

}  // namespace

TrustedKey read_trusted_key(const std::string& path) {
  std::string pem;
  try {
    pem = read_file(path, 64 * 1024);
  } catch (const Error& error) {
    throw Error(ExitCode::usage, fmt::format("cannot read the catalog key: {}", error.what()),
                "give the publisher's public key as a PEM file");
  }
  if (!parse_public_key(pem)) {
    throw Error(ExitCode::usage, fmt::format("{} holds no PEM public key (-----BEGIN PUBLIC KEY-----)", path),
                "export the publisher's public key with: openssl pkey -in KEY -pubout");
  }
  return {path, pem};
}

std::string verifying_key(std::string_view document, std::string_view signature, const std::vector<TrustedKey>& keys) {
  if (signature.empty()) return {};
  for (const auto& trusted : keys) {
    auto key = parse_public_key(trusted.pem);
    if (key && verifies(document, signature, key.get())) return trusted.name;
  }
  return {};
}

}  // namespace ibdriver::catalog
