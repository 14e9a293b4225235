#include "fetch/bundle_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/unique_fd.hpp"
#include "fetch/sha256.hpp"

namespace ibdriver::fetch {

namespace fs = std::filesystem;

BundleCache::BundleCache(fs::path dir) : dir_(std::move(dir)) {
  for (const char* sub : {"sha256", "partial"}) {
    std::error_code error;
    fs::create_directories(dir_ / sub, error);
    if (error) {
      throw FileError(ExitCode::operation_failed, "cannot create the cache folder", dir_ / sub, error.value(),
                      "choose a writable cache folder (the default /var/cache/ibdriver needs root)");
    }
  }
}

fs::path BundleCache::entry_path(const std::string& sha256) const { return dir_ / "sha256" / sha256; }
fs::path BundleCache::part_path(const std::string& sha256) const { return dir_ / "partial" / (sha256 + ".part"); }

std::optional<fs::path> BundleCache::verified_entry(const std::string& sha256) const {
  auto entry = entry_path(sha256);
  std::error_code error;
  if (!fs::exists(entry, error)) return std::nullopt;
  auto actual = sha256_of_file(entry);
  if (actual == sha256) return entry;
  log::warning(fmt::format("cached {} is corrupt (its SHA-256 is {}): deleted, fetching it again", entry.string(), actual));
  fs::remove(entry, error);
  return std::nullopt;
}

fs::path BundleCache::promote(const fs::path& part, const std::string& sha256) const {
  auto entry = entry_path(sha256);
  if (::rename(part.c_str(), entry.c_str()) != 0) {
    throw FileError(ExitCode::operation_failed, "cannot move the download into the cache as", entry, errno);
  }
  UniqueFd folder(::open(entry.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (folder.valid()) ::fsync(folder.get());  // the rename survives a crash
  return entry;
}

}  // namespace ibdriver::fetch
