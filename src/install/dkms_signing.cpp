// Secure Boot: which key DKMS signs with, its configuration drop-in and sign-file, and the pre-flight.
#include "install/module_signing.hpp"

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
