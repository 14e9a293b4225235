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
#include "core/process.hpp"
#include "core/text.hpp"

namespace ibdriver::install {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_config_bytes = 1024 * 1024;
constexpr std::size_t max_key_bytes = 1024 * 1024;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* handle) const noexcept { Free(handle); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using CmsPtr = std::unique_ptr<CMS_ContentInfo, Deleter<CMS_ContentInfo, CMS_ContentInfo_free>>;

// OpenSSL's own reason for the last failure (and clears its queue).
std::string openssl_error() {
  std::string reasons;
  while (unsigned long code = ERR_get_error()) {
    std::array<char, 256> buffer{};
    ERR_error_string_n(code, buffer.data(), buffer.size());
    if (!reasons.empty()) reasons += "; ";
    reasons += buffer.data();
  }
  return reasons.empty() ? std::string("unknown OpenSSL error") : reasons;
}

BioPtr memory_bio(const std::string& bytes) {
  BioPtr bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
  if (!bio) throw Error(ExitCode::operation_failed, "OpenSSL cannot allocate a buffer: " + openssl_error());
  return bio;
}

PkeyPtr parse_private_key(const std::string& bytes) {
  PkeyPtr key(PEM_read_bio_PrivateKey(memory_bio(bytes).get(), nullptr, nullptr, nullptr));
  if (!key) key.reset(d2i_PrivateKey_bio(memory_bio(bytes).get(), nullptr));
  ERR_clear_error();
  return key;
}

X509Ptr parse_certificate(const std::string& bytes, bool& der) {
  X509Ptr certificate(d2i_X509_bio(memory_bio(bytes).get(), nullptr));
  der = certificate != nullptr;
  if (!certificate) certificate.reset(PEM_read_bio_X509(memory_bio(bytes).get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return certificate;
}

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

bool is_executable(const SystemRoot& root, const std::string& system_path) {
  auto resolved = root.resolve(system_path);
  std::error_code error;
  return resolved && fs::is_regular_file(*resolved, error) && ::access(resolved->c_str(), X_OK) == 0;
}

}  // namespace

void read_dkms_signing_variables(std::string_view text, std::optional<std::string>& key,
                                 std::optional<std::string>& certificate) {
  static const std::regex assignment(R"(^\s*(mok_signing_key|mok_certificate)=(.*)$)");
  for (auto line : text::split(text, '\n')) {
    std::string copy(line);
    std::smatch match;
    if (!std::regex_match(copy, match, assignment)) continue;
    std::string value(text::trim(match[2].str()));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    (match[1] == "mok_signing_key" ? key : certificate) = value;
  }
}

SigningKey resolve_signing_key(const SystemRoot& root, const SigningSettings& settings) {
  std::optional<std::string> key;
  std::optional<std::string> certificate;
  std::string origin = "DKMS's defaults";
  std::vector<fs::path> files{root.path("/etc/dkms/framework.conf")};
  std::error_code error;
  std::vector<fs::path> dropins;
  for (const auto& entry : fs::directory_iterator(root.path("/etc/dkms/framework.conf.d"), error)) {
    if (entry.path().extension() == ".conf" && entry.path().filename() != fs::path(dkms_signing_dropin).filename()) {
      dropins.push_back(entry.path());
    }
  }
  std::sort(dropins.begin(), dropins.end());  // the order DKMS's glob sources them
  files.insert(files.end(), dropins.begin(), dropins.end());
  for (const auto& file : files) {
    auto text = read_file_if_exists(file, max_config_bytes);
    if (!text) continue;
    auto before_key = key;
    auto before_certificate = certificate;
    read_dkms_signing_variables(*text, key, certificate);
    if (key != before_key || certificate != before_certificate) {
      origin = "the DKMS configuration " + ("/" + fs::relative(file, root.root()).string());
    }
  }
  SigningKey result{key.value_or(dkms_default_key), certificate.value_or(dkms_default_certificate), origin};
  if (settings.key) result.key = *settings.key;
  if (settings.certificate) result.certificate = *settings.certificate;
  if (settings.key || settings.certificate) result.origin = "the key pair given";
  return result;
}

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

std::string dkms_signing_dropin_content(const SigningKey& key) {
  return fmt::format(
      "# Written by ibdriver: DKMS signs the modules it builds with this MOK key (Secure Boot).\n"
      "# `ibdriver uninstall` removes this file.\nmok_signing_key=\"{}\"\nmok_certificate=\"{}\"\n",
      key.key, key.certificate);
}

void configure_dkms_signing(const SystemRoot& root, const SigningKey& key,
                            const std::function<void(const ConfigChange&)>& record) {
  auto file = root.path(dkms_signing_dropin);
  auto current = read_file_if_exists(file, max_config_bytes);
  auto wanted = dkms_signing_dropin_content(key);
  if (current == wanted) return;
  record({dkms_signing_dropin, current ? "edited" : "created", current});
  std::error_code error;
  fs::create_directories(file.parent_path(), error);
  write_file_atomically(file, wanted, 0644);
  log::info(fmt::format("wrote {}: DKMS signs with {}", dkms_signing_dropin, key.key));
}

bool dkms_signing_configured(const SystemRoot& root, const SigningKey& key) {
  return read_file_if_exists(root.path(dkms_signing_dropin), max_config_bytes) == dkms_signing_dropin_content(key);
}

std::optional<std::string> find_sign_file(const SystemRoot& root, const std::string& kernel) {
  // dkms 3.x: Debian's linux-kbuild-<x.y>, Ubuntu's kmodsign or the headers' copy, then the build tree's.
  std::vector<std::string> candidates;
  if (auto dot = kernel.rfind('.'); dot != std::string::npos) {
    candidates.push_back(fmt::format("/usr/lib/linux-kbuild-{}/scripts/sign-file", kernel.substr(0, dot)));
  }
  candidates.push_back("/usr/bin/kmodsign");
  candidates.push_back(fmt::format("/usr/src/linux-headers-{}/scripts/sign-file", kernel));
  candidates.push_back(fmt::format("/lib/modules/{}/build/scripts/sign-file", kernel));
  for (const auto& candidate : candidates) {
    if (is_executable(root, candidate)) return candidate;
  }
  return std::nullopt;
}

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

std::optional<SigningPlan> prepare_signing(const SystemRoot& root, const SigningSettings& settings, bool secure_boot_on,
                                           const std::vector<std::string>& kernels, bool dry_run) {
  bool asked = settings.key || settings.certificate || settings.generate;
  if (!secure_boot_on && !asked) return std::nullopt;
  SigningPlan plan;
  plan.key = resolve_signing_key(root, settings);
  plan.check = check_signing_key(root, plan.key);
  std::error_code error;
  bool absent = !fs::exists(fs::symlink_status(root.path(plan.key.key), error)) &&
                !fs::exists(fs::symlink_status(root.path(plan.key.certificate), error));
  if (!plan.check.usable() && settings.generate && absent) {
    if (dry_run) {
      log::info(fmt::format("a fresh MOK key pair would be created at {} and {}", plan.key.key, plan.key.certificate));
      return plan;
    }
    generate_signing_key(root, plan.key, "ibdriver DKMS module signing key");
    plan.generated = true;
    plan.check = check_signing_key(root, plan.key);
  }
  auto steps = enrolment_steps(plan.key, plan.check.der);
  if (!plan.check.usable()) {
    auto generate_hint = absent ? fmt::format("have ibdriver generate {} and {}, then ", plan.key.key, plan.key.certificate)
                                : std::string();
    Remedies remedies{{Knob::mok_key_pair, {}}};
    if (absent) remedies.insert(remedies.begin(), Remedy{Knob::generate_mok_key, {}});
    throw Error(ExitCode::operation_failed,
                fmt::format("Secure Boot needs signed modules, but the MOK key from {} is not usable: {}", plan.key.origin,
                            plan.check.problem),
                fmt::format("{}{}; or use a key pair MOK already holds. Nothing was installed", generate_hint, steps),
                std::move(remedies));
  }
  for (const auto& kernel : kernels) {
    if (!find_sign_file(root, kernel)) {
      throw Error(ExitCode::operation_failed,
                  fmt::format("Secure Boot needs signed modules, but kernel {} has no sign-file for DKMS "
                              "(/usr/lib/linux-kbuild-*/scripts/sign-file or /lib/modules/{}/build/scripts/sign-file)",
                              kernel, kernel),
                  fmt::format("install the complete headers of {} (Debian: linux-kbuild-*; Ubuntu: linux-headers-{})", kernel, kernel));
    }
  }
  plan.enrolled = certificate_enrolled(root, plan.key);
  if (plan.enrolled != true) plan.enrolment = steps;
  return plan;
}

}  // namespace ibdriver::install
