#include "cli/remedy_text.hpp"

#include <fmt/format.h>

namespace ibdriver::cli {

namespace {

std::string_view flag_name(Knob knob) {
  switch (knob) {
    case Knob::skip_vmbus_check: return "--skip-vmbus-check";
    case Knob::skip_device_check: return "--skip-device-check";
    case Knob::skip_os_check: return "--skip-os-check";
    case Knob::skip_vm_size_check: return "--skip-vm-size-check";
    case Knob::imds_url: return "--imds-url";
    case Knob::driver_url: return "--driver-url";
    case Knob::driver_version: return "--driver-version";
    case Knob::catalog_file: return "--catalog";
    case Knob::ca_bundle: return "--ca-bundle";
    case Knob::lock_wait: return "--lock-wait";
    case Knob::kernel: return "--kernel";
    case Knob::mok_key_pair: return "--mok-key";
    case Knob::generate_mok_key: return "--generate-mok-key";
    case Knob::expect_link_layer: return "--expect-link-layer";
    case Knob::validate_wait: return "--wait";
    case Knob::skip_validation: return "--no-validate";
    case Knob::os_spec: return "--os";
    case Knob::bundle_sha256: return "--sha256";
    case Knob::install_headers: return "--install-headers";
    case Knob::reload: return "--reload";
  }
  return "";
}

// The value a flag takes when the remedy names none.
std::string_view placeholder(Knob knob) {
  switch (knob) {
    case Knob::imds_url: return "URL";
    case Knob::driver_url: return "URL --sha256 HEX";
    case Knob::driver_version: return "VERSION";
    case Knob::catalog_file:
    case Knob::ca_bundle: return "FILE";
    case Knob::lock_wait: return "SECONDS";
    case Knob::kernel: return "VERSION";
    case Knob::mok_key_pair: return "KEY --mok-cert CERT";
    case Knob::expect_link_layer: return "any";
    case Knob::validate_wait: return "SECONDS";
    case Knob::os_spec: return "ID:VERSION";
    case Knob::bundle_sha256: return "HEX";
    default: return "";
  }
}

}  // namespace

std::string flag_for(const Remedy& remedy) {
  auto value = remedy.value.empty() ? std::string(placeholder(remedy.knob)) : remedy.value;
  if (remedy.knob == Knob::driver_url && !remedy.value.empty()) value += " --sha256 HEX";
  return value.empty() ? std::string(flag_name(remedy.knob)) : fmt::format("{} {}", flag_name(remedy.knob), value);
}

std::string hint_with_flags(const std::string& hint, const Remedies& remedies) {
  if (remedies.empty()) return hint;
  std::string flags;
  for (const auto& remedy : remedies) {
    if (!flags.empty()) flags += " or ";
    flags += flag_for(remedy);
  }
  return hint.empty() ? fmt::format("pass {}", flags) : fmt::format("{}; or pass {}", hint, flags);
}

}  // namespace ibdriver::cli
