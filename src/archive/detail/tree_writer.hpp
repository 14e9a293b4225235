#pragma once
#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/unique_fd.hpp"

namespace ibdriver::archive {

// Writes an archive's entries below one folder and nowhere else: every path is walked component by
// component with O_NOFOLLOW relative to the folder, so no entry can pass through a symlink (planted
// by the archive or not); files are created with O_EXCL (a duplicate is refused); modes lose
// setuid/setgid/sticky; ownership is never restored. A refusal throws UnsafeEntry.
class TreeWriter {
 public:
  struct UnsafeEntry {
    std::string reason;
  };
  // Hands out the entry's data blocks: (data, size, offset); returns false at the end.
  using BlockReader = std::function<bool(const void*& data, std::size_t& size, std::int64_t& offset)>;

  explicit TreeWriter(const std::filesystem::path& root);

  void directory(const std::string& path, mode_t mode, std::time_t mtime);
  // Returns the bytes written.
  std::uint64_t file(const std::string& path, mode_t mode, std::time_t mtime, const BlockReader& blocks,
                     const std::function<void(std::uint64_t)>& on_bytes);
  void symlink(const std::string& path, const std::string& target);
  void hardlink(const std::string& path, const std::string& existing);
  // Applies directory modes and times, deepest first (a read-only folder must not block its children).
  void finish();

 private:
  UniqueFd open_parent(const std::string& path, std::string& leaf);

  std::filesystem::path root_path_;
  UniqueFd root_;
  std::set<std::string> regular_files_;
  struct DirectoryMeta {
    std::string path;
    mode_t mode;
    std::time_t mtime;
  };
  std::vector<DirectoryMeta> directories_;
};

}  // namespace ibdriver::archive
