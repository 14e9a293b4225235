#include "catalog/signature.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/openssl.hpp"

namespace ibdriver::catalog {

namespace {

openssl::Pkey parse_public_key(const std::string& pem) {
  if (pem.size() > 64 * 1024) return nullptr;
  auto bio = openssl::memory_bio(pem);
  openssl::Pkey key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) ERR_clear_error();
  return key;
}

bool verifies(std::string_view document, std::string_view signature, EVP_PKEY* key) {
  openssl::MdContext context(EVP_MD_CTX_new());
  if (!context) return false;
  // Ed25519 signs the message itself (no separate digest); EC and RSA sign its SHA-256.
  const EVP_MD* digest = EVP_PKEY_id(key) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
  bool ok = EVP_DigestVerifyInit(context.get(), nullptr, digest, nullptr, key) == 1 &&
            EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                             reinterpret_cast<const unsigned char*>(document.data()), document.size()) == 1;
  if (!ok) ERR_clear_error();
  return ok;
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
  return trusted_key_from_pem(pem, path);
}

TrustedKey trusted_key_from_pem(const std::string& pem, const std::string& name) {
  if (!parse_public_key(pem)) {
    throw Error(ExitCode::usage, fmt::format("{} holds no PEM public key (-----BEGIN PUBLIC KEY-----)", name),
                "export the publisher's public key with: openssl pkey -in KEY -pubout");
  }
  return {name, pem};
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
