#pragma once
#include <string>

#include "core/system_root.hpp"

namespace ibdriver::platform {

enum class SecureBootState { enabled, disabled, not_efi, unknown };
std::string_view to_string(SecureBootState state);

struct SecureBoot {
  SecureBootState state = SecureBootState::unknown;
  std::string evidence;
};

// From the SecureBoot EFI variable under <sysfs>/firmware/efi/efivars: 4 bytes of attributes, then
// one byte, 1 when Secure Boot is on. With it on, DKMS modules must be signed with an enrolled key.
SecureBoot detect_secure_boot(const SystemRoot& root);

}  // namespace ibdriver::platform
