#pragma once
// The one owner of OpenSSL handles: a deleter per C type, and OpenSSL's own reason for a failure.
// Included only by the .cpp files that call OpenSSL (signing, CMS, the CA store, hashing, the
// catalog signature), so OpenSSL's headers stay out of every public header.
#include <memory>
#include <string>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace ibdriver::openssl {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* handle) const noexcept { Free(handle); }
};

using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Pkey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyContext = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdContext = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using Certificate = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using CertificateExtension = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using Bignum = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using Cms = std::unique_ptr<CMS_ContentInfo, Deleter<CMS_ContentInfo, CMS_ContentInfo_free>>;

// OpenSSL's reasons for the last failure, "; "-joined, and its error queue cleared so a stale reason
// never reaches a later message. "unknown OpenSSL error" when it gave none.
std::string error_text();

// A read-only memory BIO over `bytes` (which must outlive it); Error 14 when OpenSSL cannot make one.
Bio memory_bio(const std::string& bytes);
// A private key in PEM or DER; null when it is neither (the error queue is cleared).
Pkey parse_private_key(const std::string& bytes);
// An X.509 certificate in DER or PEM (`der` says which); null when it is neither.
Certificate parse_certificate(const std::string& bytes, bool& der);

}  // namespace ibdriver::openssl
