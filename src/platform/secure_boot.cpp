#include "platform/secure_boot.hpp"

#include <system_error>

#include <fmt/format.h>

#include "core/files.hpp"

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

SecureBoot detect_secure_boot(const SystemRoot& root) {
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

}  // namespace ibdriver::platform
