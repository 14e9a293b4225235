#include "net/extra_ca.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/openssl.hpp"

namespace ibdriver::net {

namespace {


// Adds every certificate of the file to the store; returns how many.
int add_certificates(const std::filesystem::path& pem_file, X509_STORE* store) {
  openssl::Bio bio(BIO_new_file(pem_file.c_str(), "r"));
  if (!bio) return -1;
  int added = 0;
  while (true) {
    openssl::Certificate certificate(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!certificate) break;
    if (store != nullptr && X509_STORE_add_cert(store, certificate.get()) != 1) {
      // Already present is fine; anything else leaves it untrusted, which verification will report.
      ERR_clear_error();
    }
    ++added;
  }
  ERR_clear_error();  // the loop ends on a "no start line" error
  return added;
}

CURLcode add_to_context(CURL* /*curl*/, void* ssl_context, void* pem_file) {
  auto* context = static_cast<SSL_CTX*>(ssl_context);
  const auto* file = static_cast<const std::filesystem::path*>(pem_file);
  return add_certificates(*file, SSL_CTX_get_cert_store(context)) > 0 ? CURLE_OK : CURLE_SSL_CACERT_BADFILE;
}

}  // namespace

void check_ca_file(const std::filesystem::path& pem_file) {
  int count = add_certificates(pem_file, nullptr);
  if (count < 0) {
    throw Error(ExitCode::usage, fmt::format("cannot read the CA bundle {}", pem_file.string()),
                "the extra CA bundle must be a readable PEM file of CA certificates");
  }
  if (count == 0) {
    throw Error(ExitCode::usage, fmt::format("{} holds no PEM certificate", pem_file.string()),
                "the extra CA bundle must be a PEM file (-----BEGIN CERTIFICATE-----)");
  }
}

void trust_extra_ca(CurlHandle& curl, const std::filesystem::path& pem_file) {
  curl.set(CURLOPT_SSL_CTX_FUNCTION, &add_to_context);
  curl.set(CURLOPT_SSL_CTX_DATA, const_cast<void*>(static_cast<const void*>(&pem_file)));
}

}  // namespace ibdriver::net
