#pragma once
#include <filesystem>
#include <optional>
#include <string>

namespace ibdriver::fetch {

// Finished downloads stored under their SHA-256 (<dir>/sha256/<hex>), partial ones beside them
// (<dir>/partial/<hex>.part), so a later run reuses or resumes them without asking the network.
class BundleCache {
 public:
  explicit BundleCache(std::filesystem::path dir);  // creates the folders; Error (14) when it cannot
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path entry_path(const std::string& sha256) const;
  std::filesystem::path part_path(const std::string& sha256) const;

  // The cached file, re-hashed to prove it is still intact; a corrupt entry is deleted (and logged)
  // so that it is fetched again.
  std::optional<std::filesystem::path> verified_entry(const std::string& sha256) const;
  // Moves a verified part file into place (atomic rename, folder synced).
  std::filesystem::path promote(const std::filesystem::path& part, const std::string& sha256) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace ibdriver::fetch
