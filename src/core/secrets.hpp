#pragma once
#include <string>
#include <string_view>

namespace ibdriver {

// Values that must never be shown (the extension's protected settings: SAS tokens, proxy passwords).
// Every log line and status message passes through mask_secrets, so even an error that quotes a URL
// or a tool's output cannot leak one. Values shorter than 4 characters are not registered (masking
// them would garble ordinary text; a secret that short protects nothing).
void register_secret(std::string_view value);
std::string mask_secrets(std::string_view text);

}  // namespace ibdriver
