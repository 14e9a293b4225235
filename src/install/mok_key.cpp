// Secure Boot: the MOK key pair (check, generate) and what enrolling it takes.
#include "install/module_signing.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <memory>
#include <regex>
#include <system_error>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/openssl.hpp"
#include "core/process.hpp"
#include "core/text.hpp"

namespace ibdriver::install {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_key_bytes = 1024 * 1024;

using BioPtr = openssl::Bio;
using PkeyPtr = openssl::Pkey;
using PkeyCtxPtr = openssl::PkeyContext;
using X509Ptr = openssl::Certificate;
using ExtensionPtr = openssl::CertificateExtension;
using BignumPtr = openssl::Bignum;
using openssl::parse_certificate;
using openssl::parse_private_key;

std::string openssl_error() { return openssl::error_text(); }
std::string subject_of(const X509* certificate) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(certificate), 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  auto size = BIO_get_mem_data(bio.get(), &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

std::string sha1_fingerprint(const X509* certificate) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (X509_digest(certificate, EVP_sha1(), digest.data(), &length) != 1) return {};
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{}{:02X}", i == 0 ? "" : ":", digest[i]);
  return hex;
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  auto size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

void add_extension(X509* certificate, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, certificate, certificate, nullptr, nullptr, 0);
  ExtensionPtr extension(X509V3_EXT_nconf_nid(nullptr, &context, nid, value));
  if (!extension || X509_add_ext(certificate, extension.get(), -1) != 1) {
    throw Error(ExitCode::operation_failed, fmt::format("OpenSSL cannot add the extension {}: {}", value, openssl_error()));
  }
}

PkeyPtr new_rsa_key(int bits) {
  PkeyCtxPtr context(EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr));
  EVP_PKEY* made = nullptr;
  if (!context || EVP_PKEY_keygen_init(context.get()) != 1 || EVP_PKEY_CTX_set_rsa_keygen_bits(context.get(), bits) != 1 ||
      EVP_PKEY_keygen(context.get(), &made) != 1) {
    throw Error(ExitCode::operation_failed, "OpenSSL cannot generate an RSA key: " + openssl_error());
  }
  return PkeyPtr(made);
}

}  // namespace

KeyCheck check_signing_key(const SystemRoot& root, const SigningKey& key) {
  KeyCheck check;
  if (key.key.rfind("pkcs11:", 0) == 0 || key.key.find('$') != std::string::npos ||
      key.certificate.find('$') != std::string::npos) {
    check.problem = fmt::format("the key {} is a PKCS#11 URI or depends on the kernel: ibdriver cannot check it", key.key);
    return check;
  }
  std::optional<std::string> key_bytes;
  std::optional<std::string> certificate_bytes;
  try {
    key_bytes = read_file_if_exists(root.path(key.key), max_key_bytes);
    certificate_bytes = read_file_if_exists(root.path(key.certificate), max_key_bytes);
  } catch (const Error& error) {
    check.problem = error.what();  // unreadable: permissions, a folder, too big
    return check;
  }
  if (!key_bytes) {
    check.problem = fmt::format("the MOK signing key {} does not exist", key.key);
    return check;
  }
  if (!certificate_bytes) {
    check.problem = fmt::format("the MOK certificate {} does not exist", key.certificate);
    return check;
  }
  auto private_key = parse_private_key(*key_bytes);
  if (!private_key) {
    check.problem = fmt::format("{} is not an unencrypted private key (PEM or DER)", key.key);
    return check;
  }
  auto certificate = parse_certificate(*certificate_bytes, check.der);
  if (!certificate) {
    check.problem = fmt::format("{} is not an X.509 certificate (DER or PEM)", key.certificate);
    return check;
  }
  check.subject = subject_of(certificate.get());
  check.sha1_fingerprint = sha1_fingerprint(certificate.get());
  if (X509_check_private_key(certificate.get(), private_key.get()) != 1) {
    ERR_clear_error();
    check.problem = fmt::format("the certificate {} ({}) does not belong to the key {}", key.certificate, check.subject, key.key);
  }
  return check;
}

void generate_signing_key(const SystemRoot& root, const SigningKey& key, std::string_view common_name) {
  auto key_file = root.path(key.key);
  auto certificate_file = root.path(key.certificate);
  std::error_code error;
  for (const auto& file : {key_file, certificate_file}) {
    if (fs::exists(fs::symlink_status(file, error))) {
      throw Error(ExitCode::operation_failed, fmt::format("{} exists: ibdriver never replaces a signing key", file.string()),
                  "use that key pair, or move it away to have another pair made", {{Knob::mok_key_pair, {}}});
    }
  }
  auto private_key = new_rsa_key(2048);
  X509Ptr certificate(X509_new());
  BignumPtr serial(BN_new());
  if (!certificate || !serial || X509_set_version(certificate.get(), 2) != 1 ||
      BN_rand(serial.get(), 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(certificate.get())) == nullptr) {
    throw Error(ExitCode::operation_failed, "OpenSSL cannot start a certificate: " + openssl_error());
  }
  X509_NAME* name = X509_get_subject_name(certificate.get());
  std::string cn(common_name);
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0) != 1 ||
      X509_set_issuer_name(certificate.get(), name) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(certificate.get()), 0) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(certificate.get()), 36500, 0, nullptr) == nullptr ||  // as DKMS: 100 years
      X509_set_pubkey(certificate.get(), private_key.get()) != 1) {
    throw Error(ExitCode::operation_failed, "OpenSSL cannot fill in the certificate: " + openssl_error());
  }
  add_extension(certificate.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(certificate.get(), NID_key_usage, "digitalSignature");
  // codeSigning, and the OID the kernel reads as "for module signing only" (as update-secureboot-policy).
  add_extension(certificate.get(), NID_ext_key_usage, "codeSigning,1.3.6.1.4.1.2312.16.1.2");
  add_extension(certificate.get(), NID_subject_key_identifier, "hash");
  add_extension(certificate.get(), NID_authority_key_identifier, "keyid");
  if (X509_sign(certificate.get(), private_key.get(), EVP_sha256()) == 0) {
    throw Error(ExitCode::operation_failed, "OpenSSL cannot sign the certificate: " + openssl_error());
  }
  BioPtr key_pem(BIO_new(BIO_s_mem()));
  BioPtr certificate_der(BIO_new(BIO_s_mem()));
  if (!key_pem || !certificate_der ||
      PEM_write_bio_PrivateKey(key_pem.get(), private_key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      i2d_X509_bio(certificate_der.get(), certificate.get()) != 1) {
    throw Error(ExitCode::operation_failed, "OpenSSL cannot encode the key pair: " + openssl_error());
  }
  fs::create_directories(key_file.parent_path(), error);
  fs::create_directories(certificate_file.parent_path(), error);
  write_file_atomically(key_file, bio_contents(key_pem.get()), 0600);
  write_file_atomically(certificate_file, bio_contents(certificate_der.get()), 0644);
  log::info(fmt::format("created the MOK signing key {} and its certificate {} (CN={})", key.key, key.certificate, cn));
}

std::string enrolment_steps(const SigningKey& key, bool certificate_is_der) {
  std::string der = key.certificate;
  std::string convert;
  if (!certificate_is_der) {
    der = key.certificate + ".der";
    convert = fmt::format("openssl x509 -in {} -outform DER -out {}; ", key.certificate, der);
  }
  return fmt::format(
      "enrol the certificate in MOK: {}`sudo mokutil --import {}` (choose a one-time password), reboot, and in "
      "MokManager choose \"Enroll MOK\", \"Continue\", \"Yes\" and enter that password; `mokutil --test-key {}` then "
      "says it is enrolled",
      convert, der, der);
}

std::optional<bool> certificate_enrolled(const SystemRoot& root, const SigningKey& key) {
  std::error_code error;
  if (!root.is_host_root() || !fs::equivalent(root.sysfs(), "/sys", error)) return std::nullopt;
  ProcessOptions options;
  options.time_limit = std::chrono::seconds(10);
  try {
    auto result = run_process({"mokutil", "--test-key", key.certificate}, options);
    auto said = result.out + result.err;
    if (said.find("is already enrolled") != std::string::npos) return true;
    if (said.find("is not enrolled") != std::string::npos) return false;
  } catch (const Error&) {
    // mokutil is not installed
  }
  return std::nullopt;
}

}  // namespace ibdriver::install
