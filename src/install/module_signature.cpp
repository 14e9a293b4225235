// Secure Boot: reading a module file's appended signature and its signer.
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

using CmsPtr = openssl::Cms;
using openssl::memory_bio;
using openssl::parse_certificate;

}  // namespace

bool module_has_signature(const fs::path& module_file) {
  static constexpr std::string_view marker = "~Module signature appended~\n";
  std::ifstream in(module_file, std::ios::binary);
  if (!in) return false;
  in.seekg(0, std::ios::end);
  auto size = static_cast<std::streamoff>(in.tellg());
  if (size < static_cast<std::streamoff>(marker.size())) return false;
  in.seekg(size - static_cast<std::streamoff>(marker.size()));
  std::string tail(marker.size(), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  return tail == marker;
}

bool module_signed_with(const fs::path& module_file, const fs::path& certificate_file) {
  // The module ends with: the CMS signature, struct module_signature (12 bytes, the signature's length
  // big-endian in the last 4), then the marker.
  static constexpr std::string_view marker = "~Module signature appended~\n";
  constexpr std::size_t info_size = 12;
  std::ifstream in(module_file, std::ios::binary);
  if (!in) return false;
  in.seekg(0, std::ios::end);
  auto size = static_cast<std::size_t>(static_cast<std::streamoff>(in.tellg()));
  if (size < marker.size() + info_size) return false;
  std::string trailer(marker.size() + info_size, '\0');
  in.seekg(static_cast<std::streamoff>(size - trailer.size()));
  in.read(trailer.data(), static_cast<std::streamsize>(trailer.size()));
  if (trailer.compare(info_size, marker.size(), marker) != 0) return false;
  std::size_t signature_size = 0;
  for (std::size_t i = 8; i < 12; ++i) signature_size = (signature_size << 8) | static_cast<unsigned char>(trailer[i]);
  if (signature_size == 0 || signature_size > size - trailer.size()) return false;
  std::string signature(signature_size, '\0');
  in.seekg(static_cast<std::streamoff>(size - trailer.size() - signature_size));
  in.read(signature.data(), static_cast<std::streamsize>(signature.size()));
  auto certificate_bytes = read_file_if_exists(certificate_file, max_key_bytes);
  if (!in || !certificate_bytes) return false;
  bool der = false;
  auto certificate = parse_certificate(*certificate_bytes, der);
  CmsPtr cms(d2i_CMS_bio(memory_bio(signature).get(), nullptr));
  bool matches = false;
  if (cms && certificate) {
    auto* signers = CMS_get0_SignerInfos(cms.get());
    for (int i = 0; signers != nullptr && i < sk_CMS_SignerInfo_num(signers); ++i) {
      if (CMS_SignerInfo_cert_cmp(sk_CMS_SignerInfo_value(signers, i), certificate.get()) == 0) matches = true;
    }
  }
  ERR_clear_error();
  return matches;
}

}  // namespace ibdriver::install
