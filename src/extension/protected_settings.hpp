#pragma once
#include <filesystem>
#include <string>
#include <string_view>

namespace ibdriver::extension {

// Decrypts the agent's protected settings (base64 of DER CMS enveloped data) with the certificate
// and key <certificate_folder>/<THUMBPRINT>.crt and .prv, as `openssl cms -decrypt -inform DER` does.
// Checks that the thumbprint (SHA-1 of the certificate) matches its file. Returns the plaintext, which
// the caller must treat as secret. Throws Error (usage, exit 1) saying which part failed, never what
// the plaintext holds.
std::string decrypt_protected_settings(std::string_view base64, std::string_view thumbprint,
                                       const std::filesystem::path& certificate_folder);

// The SHA-1 thumbprint (upper-case hex) of a PEM certificate file, as the agent names its files.
std::string certificate_thumbprint(const std::filesystem::path& certificate_file);

}  // namespace ibdriver::extension
