#include "platform/secure_boot.hpp"

#include <chrono>
#include <system_error>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/process.hpp"

namespace ibdriver::platform {

std::string_view to_string(SecureBootState state) {
  switch (state) {
    case SecureBootState::enabled: return "enabled";
    case SecureBootState::disabled: return "disabled";
    case SecureBootState::not_efi: return "not-efi";
    case SecureBootState::unknown: return "unknown";
  }
  return "unknown";
}

namespace {

SecureBoot from_efivars(const SystemRoot& root) {
  constexpr const char* variable = "firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";
  std::error_code error;
  if (!std::filesystem::exists(root.sysfs_path("firmware/efi"), error)) {
    return {SecureBootState::not_efi, "no firmware/efi in sysfs: booted without UEFI"};
  }
  try {
    auto content = read_file_if_exists(root.sysfs_path(variable), 64);
    if (!content) return {SecureBootState::disabled, "UEFI boot without a SecureBoot variable"};
    if (content->size() != 5) {
      return {SecureBootState::unknown, fmt::format("the SecureBoot variable has {} bytes, expected 5", content->size())};
    }
    bool on = static_cast<unsigned char>(content->back()) == 1;
    return {on ? SecureBootState::enabled : SecureBootState::disabled,
            fmt::format("SecureBoot EFI variable = {}", static_cast<unsigned>(static_cast<unsigned char>(content->back())))};
  } catch (const std::exception& failure) {
    return {SecureBootState::unknown, failure.what()};
  }
}

bool on_real_machine(const SystemRoot& root) {
  std::error_code error;
  return root.is_host_root() && std::filesystem::equivalent(root.sysfs(), "/sys", error);
}

}  // namespace

SecureBootState parse_mokutil_sb_state(std::string_view output) {
  if (output.find("SecureBoot enabled") != std::string_view::npos) return SecureBootState::enabled;
  if (output.find("SecureBoot disabled") != std::string_view::npos) return SecureBootState::disabled;
  return SecureBootState::unknown;
}

SecureBoot detect_secure_boot(const SystemRoot& root) {
  auto efivars = from_efivars(root);
  if (!on_real_machine(root)) return efivars;
  ProcessOptions options;
  options.time_limit = std::chrono::seconds(10);
  try {
    auto result = run_process({"mokutil", "--sb-state"}, options);
    auto state = parse_mokutil_sb_state(result.out + result.err);
    if (state == SecureBootState::unknown) return efivars;
    if (state != efivars.state) {
      log::warning(fmt::format("mokutil says Secure Boot is {} but efivars say {} ({}): following mokutil", to_string(state),
                               to_string(efivars.state), efivars.evidence));
    }
    return {state, fmt::format("mokutil --sb-state: SecureBoot {}; {}", to_string(state), efivars.evidence)};
  } catch (const Error&) {
    return efivars;  // mokutil is not installed
  }
}

}  // namespace ibdriver::platform
