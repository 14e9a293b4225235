#pragma once
#include <filesystem>
#include <string>

#include "catalog/signature.hpp"
#include "support/temp_dir.hpp"

namespace ibdriver::test {

// A publisher's key pair made by the test with openssl (never committed), and signatures made with
// packaging/sign-catalog, as a real publisher makes them.
class CatalogSigner {
 public:
  CatalogSigner();
  const std::filesystem::path& private_key() const { return private_key_; }
  const std::filesystem::path& public_key() const { return public_key_; }
  catalog::TrustedKey trusted() const;
  // Writes `document` to `file` and `file`.sig beside it; returns the signature's bytes.
  std::string sign(const std::filesystem::path& file, const std::string& document) const;
  // The same with openssl alone: for bytes the script refuses to sign (not a catalog).
  std::string sign_raw(const std::filesystem::path& file, const std::string& document) const;

 private:
  TempDir dir_;
  std::filesystem::path private_key_;
  std::filesystem::path public_key_;
};

// A channel catalog with `serial` and the given release rows (JSON text of each row).
std::string channel_document(long long serial, const std::string& rows);

// A valid release row whose file name is `name` (a made-up release on a mirror, with `sha256`).
std::string release_row(const std::string& name, const std::string& sha256, const std::string& os_version = "12");

}  // namespace ibdriver::test
