#pragma once
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/system_root.hpp"
#include "install/journal.hpp"

namespace ibdriver::install {

// Module signing for Secure Boot, through DKMS's own support: DKMS signs every module it builds with
// `mok_signing_key` and `mok_certificate` from /etc/dkms/framework.conf and framework.conf.d/*.conf,
// using the kernel's scripts/sign-file (Debian: /usr/lib/linux-kbuild-<x.y>/scripts/sign-file).
// ibdriver checks the key before anything is installed, points DKMS at it with a drop-in, and can
// create a key pair; it never runs `mokutil --import` (that asks for a password).

struct SigningSettings {
  std::optional<std::string> key;          // --mok-key: private key (PEM or DER), a system path
  std::optional<std::string> certificate;  // --mok-cert: X.509 certificate (DER or PEM)
  bool generate = false;                   // --generate-mok-key: create the pair when it is absent
};

// DKMS's own defaults when nothing configures a key (dkms 3.x).
inline constexpr const char* dkms_default_key = "/var/lib/dkms/mok.key";
inline constexpr const char* dkms_default_certificate = "/var/lib/dkms/mok.pub";
inline constexpr const char* dkms_signing_dropin = "/etc/dkms/framework.conf.d/ibdriver.conf";

struct SigningKey {
  std::string key;          // system paths
  std::string certificate;
  std::string origin;       // where the paths came from, for messages
};

// The key to sign with: --mok-key/--mok-cert, else what DKMS's configuration names (other than
// ibdriver's own drop-in), else DKMS's defaults.
SigningKey resolve_signing_key(const SystemRoot& root, const SigningSettings& settings);

// mok_signing_key / mok_certificate assigned in a DKMS framework configuration text (KEY=VALUE lines;
// the last assignment wins, as when DKMS sources it).
void read_dkms_signing_variables(std::string_view text, std::optional<std::string>& key,
                                 std::optional<std::string>& certificate);

struct KeyCheck {
  std::string problem;        // empty: usable
  std::string subject;        // the certificate's subject ("CN=...")
  std::string sha1_fingerprint;  // as MokManager shows it (AA:BB:...)
  bool der = false;           // the certificate file is DER (what `mokutil --import` takes)
  bool usable() const { return problem.empty(); }
};

// Loads both files with OpenSSL and checks that the certificate belongs to the key.
KeyCheck check_signing_key(const SystemRoot& root, const SigningKey& key);

// A fresh RSA 2048 key (PEM, mode 0600) and a self-signed X.509 certificate (DER) for code signing,
// as DKMS and update-secureboot-policy make them. Refuses to replace an existing file.
void generate_signing_key(const SystemRoot& root, const SigningKey& key, std::string_view common_name);

// The exact steps to enrol the certificate in MOK (what to run, the reboot, MokManager).
std::string enrolment_steps(const SigningKey& key, bool certificate_is_der);

// Whether MOK already holds the certificate (`mokutil --test-key`, only on the real machine);
// nullopt when that cannot be known.
std::optional<bool> certificate_enrolled(const SystemRoot& root, const SigningKey& key);

// The DKMS drop-in that names the key (and, when DKMS would not find it, sign-file).
std::string dkms_signing_dropin_content(const SigningKey& key);
// Writes the drop-in unless it is already right; `record` gets the change before the file is written.
void configure_dkms_signing(const SystemRoot& root, const SigningKey& key,
                            const std::function<void(const ConfigChange&)>& record);
bool dkms_signing_configured(const SystemRoot& root, const SigningKey& key);

// The sign-file DKMS uses for a kernel, searched as dkms 3.x does (system path); nullopt when none.
std::optional<std::string> find_sign_file(const SystemRoot& root, const std::string& kernel);

// Whether a kernel module file ends with the appended-signature marker ("~Module signature appended~\n").
bool module_has_signature(const std::filesystem::path& module_file);

// Whether the module's appended signature (CMS, as sign-file writes it) names this certificate as its
// signer. False when unsigned, signed with another key (DKMS's own auto-made key), or unreadable.
bool module_signed_with(const std::filesystem::path& module_file, const std::filesystem::path& certificate_file);

// What Secure Boot signing means for this install, decided before anything is changed.
struct SigningPlan {
  SigningKey key;
  KeyCheck check;
  bool generated = false;   // this run created the pair
  std::optional<bool> enrolled;
  std::string enrolment;    // the steps, when not known to be enrolled
};

// With Secure Boot on (or a key given explicitly): resolves the key, creates it with `generate`
// (not in a dry run), and refuses (exit 14, with the enrolment steps) when it is missing,
// unreadable or does not match, or when a kernel has no sign-file. nullopt: nothing to sign.
std::optional<SigningPlan> prepare_signing(const SystemRoot& root, const SigningSettings& settings, bool secure_boot_on,
                                           const std::vector<std::string>& kernels, bool dry_run);

}  // namespace ibdriver::install
