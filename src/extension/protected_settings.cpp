#include "extension/protected_settings.hpp"

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <cctype>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/openssl.hpp"
#include "core/text.hpp"

namespace ibdriver::extension {
namespace fs = std::filesystem;
namespace {

using Bio = openssl::Bio;
using Certificate = openssl::Certificate;
using PrivateKey = openssl::Pkey;
using Cms = openssl::Cms;

constexpr const char* settings_hint =
    "the protected settings must be encrypted by Azure for this VM's certificate; apply the settings again "
    "(`az vm extension set` with the protected settings)";

// OpenSSL's own reason for the last failure (its queue is cleared so it cannot leak into a later one).
std::string openssl_reason() { return openssl::error_text(); }

std::vector<unsigned char> decode_base64(std::string_view base64) {
  std::string compact;
  compact.reserve(base64.size());
  for (char c : base64) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) continue;
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '+' && c != '/' && c != '=') {
      throw Error(ExitCode::usage, "the protected settings are not base64 (they hold characters outside its alphabet)", settings_hint);
    }
    compact.push_back(c);
  }
  if (compact.empty() || compact.size() % 4 != 0) {
    throw Error(ExitCode::usage, "the protected settings are not base64 (their length is not a multiple of 4)", settings_hint);
  }
  std::vector<unsigned char> bytes(compact.size() / 4 * 3);
  int decoded = EVP_DecodeBlock(bytes.data(), reinterpret_cast<const unsigned char*>(compact.data()), static_cast<int>(compact.size()));
  if (decoded < 0) throw Error(ExitCode::usage, "the protected settings are not valid base64", settings_hint);
  std::size_t padding = compact.size() - compact.find_last_not_of('=') - 1;
  if (padding > 2) throw Error(ExitCode::usage, "the protected settings are not valid base64 (bad padding)", settings_hint);
  bytes.resize(static_cast<std::size_t>(decoded) - padding);
  return bytes;
}

Bio open_file(const fs::path& file, const char* what) {
  Bio bio(BIO_new_file(file.c_str(), "r"));
  if (!bio) {
    ERR_clear_error();
    throw Error(ExitCode::usage, fmt::format("cannot read the {} {}", what, file.string()),
                "the Azure guest agent keeps the certificate for protected settings there; if the VM's certificates "
                "changed, apply the extension's settings again");
  }
  return bio;
}

Certificate load_certificate(const fs::path& file) {
  auto bio = open_file(file, "certificate");
  Certificate certificate(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!certificate) throw Error(ExitCode::usage, fmt::format("{} holds no PEM certificate: {}", file.string(), openssl_reason()));
  return certificate;
}

std::string thumbprint_of(X509* certificate) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (X509_digest(certificate, EVP_sha1(), digest.data(), &length) != 1) {
    throw Error(ExitCode::operation_failed, fmt::format("cannot compute a certificate thumbprint: {}", openssl_reason()));
  }
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02X}", digest[i]);
  return hex;
}

}  // namespace

std::string certificate_thumbprint(const fs::path& certificate_file) {
  auto certificate = load_certificate(certificate_file);
  return thumbprint_of(certificate.get());
}

std::string decrypt_protected_settings(std::string_view base64, std::string_view thumbprint, const fs::path& certificate_folder) {
  // The thumbprint names files: only hex, so it can never point outside the folder.
  bool hex = !thumbprint.empty() && thumbprint.size() <= 128;
  for (char c : thumbprint) hex = hex && std::isxdigit(static_cast<unsigned char>(c)) != 0;
  if (!hex) {
    throw Error(ExitCode::usage, fmt::format("protectedSettingsCertThumbprint \"{}\" is not a hex thumbprint", text::printable(thumbprint, 80)),
                settings_hint);
  }
  std::string name(thumbprint);  // the agent names the files in upper case
  for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto der = decode_base64(base64);

  auto certificate_file = certificate_folder / (name + ".crt");
  auto key_file = certificate_folder / (name + ".prv");
  auto certificate = load_certificate(certificate_file);
  if (auto actual = thumbprint_of(certificate.get()); actual != name) {
    throw Error(ExitCode::usage, fmt::format("{} has thumbprint {}, not {}", certificate_file.string(), actual, name), settings_hint);
  }
  auto key_bio = open_file(key_file, "private key");
  PrivateKey key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key) throw Error(ExitCode::usage, fmt::format("{} holds no PEM private key: {}", key_file.string(), openssl_reason()));
  if (X509_check_private_key(certificate.get(), key.get()) != 1) {
    ERR_clear_error();
    throw Error(ExitCode::usage, fmt::format("{} is not the private key of {}", key_file.string(), certificate_file.string()));
  }

  const unsigned char* cursor = der.data();
  Cms cms(d2i_CMS_ContentInfo(nullptr, &cursor, static_cast<long>(der.size())));
  if (!cms) {
    throw Error(ExitCode::usage, fmt::format("the protected settings are not DER CMS enveloped data: {}", openssl_reason()), settings_hint);
  }
  Bio plaintext(BIO_new(BIO_s_mem()));
  if (!plaintext) throw Error(ExitCode::operation_failed, "out of memory decrypting the protected settings");
  if (CMS_decrypt(cms.get(), key.get(), certificate.get(), nullptr, plaintext.get(), 0) != 1) {
    throw Error(ExitCode::usage,
                fmt::format("cannot decrypt the protected settings with certificate {}: {}", name, openssl_reason()),
                settings_hint);
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(plaintext.get(), &data);
  if (size < 0 || data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace ibdriver::extension
