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
// On the real machine (root "/" and sysfs "/sys") `mokutil --sb-state`, where installed, has the last
// word: it is what the distribution's own tools believe. With a fake root or sysfs, only efivars count.
SecureBoot detect_secure_boot(const SystemRoot& root);

// The state `mokutil --sb-state` printed ("SecureBoot enabled"/"disabled"); unknown for anything else.
SecureBootState parse_mokutil_sb_state(std::string_view output);

}  // namespace ibdriver::platform
