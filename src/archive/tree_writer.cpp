#include "archive/detail/tree_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <array>
#include <cstring>

#include <fmt/format.h>

#include "archive/entry_path.hpp"
#include "core/error.hpp"
#include "core/text.hpp"

namespace ibdriver::archive {

namespace {
constexpr mode_t permission_bits = 0777;  // setuid, setgid and sticky are dropped

[[noreturn]] void unsafe(std::string reason) { throw TreeWriter::UnsafeEntry{std::move(reason)}; }

void set_times(int directory_fd, const char* name, std::time_t mtime, int flags) {
  std::array<timespec, 2> times{timespec{mtime, 0}, timespec{mtime, 0}};
  ::utimensat(directory_fd, name, times.data(), flags);  // times are cosmetic: a failure is not an error
}
}  // namespace

TreeWriter::TreeWriter(const std::filesystem::path& root)
    : root_path_(root), root_(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
  if (!root_.valid()) throw FileError(ExitCode::operation_failed, "cannot open", root, errno);
}

UniqueFd TreeWriter::open_parent(const std::string& path, std::string& leaf) {
  auto parts = text::split(path, '/');
  leaf = std::string(parts.back());
  UniqueFd current(::dup(root_.get()));
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    std::string part(parts[i]);
    int next = ::openat(current.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT) {
      // A folder the archive did not list first: made here, with the usual mode.
      if (::mkdirat(current.get(), part.c_str(), 0755) != 0 && errno != EEXIST) {
        throw FileError(ExitCode::operation_failed, "cannot create", root_path_ / path, errno);
      }
      next = ::openat(current.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (next < 0) {
      if (errno == ELOOP || errno == ENOTDIR) {
        unsafe(fmt::format("it passes through \"{}\", which is a symlink or a file", text::printable(part)));
      }
      throw FileError(ExitCode::operation_failed, "cannot open", root_path_ / path, errno);
    }
    current.reset(next);
  }
  return current;
}

void TreeWriter::directory(const std::string& path, mode_t mode, std::time_t mtime) {
  if (path == ".") return;
  std::string leaf;
  auto parent = open_parent(path, leaf);
  if (::mkdirat(parent.get(), leaf.c_str(), 0700) != 0) {
    if (errno != EEXIST) throw FileError(ExitCode::operation_failed, "cannot create", root_path_ / path, errno);
    struct stat existing {};
    if (::fstatat(parent.get(), leaf.c_str(), &existing, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(existing.st_mode)) {
      unsafe("a folder entry collides with an earlier entry that is not a folder");
    }
  }
  directories_.push_back({path, static_cast<mode_t>(mode & permission_bits), mtime});
}

std::uint64_t TreeWriter::file(const std::string& path, mode_t mode, std::time_t mtime, const BlockReader& blocks,
                               const std::function<void(std::uint64_t)>& on_bytes) {
  std::string leaf;
  auto parent = open_parent(path, leaf);
  UniqueFd fd(::openat(parent.get(), leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    if (errno == EEXIST) unsafe("a duplicate entry: the path was already written by this archive");
    throw FileError(ExitCode::operation_failed, "cannot create", root_path_ / path, errno);
  }
  std::uint64_t written_total = 0;
  std::int64_t end = 0;
  const void* data = nullptr;
  std::size_t size = 0;
  std::int64_t offset = 0;
  while (blocks(data, size, offset)) {
    const char* bytes = static_cast<const char*>(data);
    std::size_t left = size;
    while (left > 0) {
      ssize_t written = ::pwrite(fd.get(), bytes, left, offset);
      if (written < 0) {
        if (errno == EINTR) continue;
        throw FileError(ExitCode::operation_failed, "cannot write", root_path_ / path, errno,
                        errno == ENOSPC ? "free space on that file system" : std::string{});
      }
      bytes += written;
      left -= static_cast<std::size_t>(written);
      offset += written;
    }
    end = std::max(end, offset);
    written_total += size;
    on_bytes(size);
  }
  if (::ftruncate(fd.get(), end) != 0) throw FileError(ExitCode::operation_failed, "cannot size", root_path_ / path, errno);
  if (::fchmod(fd.get(), mode & permission_bits) != 0) {
    throw FileError(ExitCode::operation_failed, "cannot set the mode of", root_path_ / path, errno);
  }
  std::array<timespec, 2> times{timespec{mtime, 0}, timespec{mtime, 0}};
  ::futimens(fd.get(), times.data());
  regular_files_.insert(path);
  return written_total;
}

void TreeWriter::symlink(const std::string& path, const std::string& target) {
  if (!symlink_stays_inside(path, target)) {
    unsafe(fmt::format("a symlink to \"{}\" points outside the target folder", text::printable(target)));
  }
  std::string leaf;
  auto parent = open_parent(path, leaf);
  if (::symlinkat(target.c_str(), parent.get(), leaf.c_str()) != 0) {
    if (errno == EEXIST) unsafe("a duplicate entry: the path was already written by this archive");
    throw FileError(ExitCode::operation_failed, "cannot create the symlink", root_path_ / path, errno);
  }
}

void TreeWriter::hardlink(const std::string& path, const std::string& existing) {
  if (regular_files_.count(existing) == 0) {
    unsafe(fmt::format("a hard link to \"{}\", which is not a file this archive wrote", text::printable(existing)));
  }
  std::string leaf;
  auto parent = open_parent(path, leaf);
  std::string existing_leaf;
  auto existing_parent = open_parent(existing, existing_leaf);
  if (::linkat(existing_parent.get(), existing_leaf.c_str(), parent.get(), leaf.c_str(), 0) != 0) {
    if (errno == EEXIST) unsafe("a duplicate entry: the path was already written by this archive");
    throw FileError(ExitCode::operation_failed, "cannot create the hard link", root_path_ / path, errno);
  }
  regular_files_.insert(path);
}

void TreeWriter::finish() {
  std::sort(directories_.begin(), directories_.end(),
            [](const DirectoryMeta& a, const DirectoryMeta& b) { return a.path.size() > b.path.size(); });
  for (const auto& directory : directories_) {
    std::string leaf;
    auto parent = open_parent(directory.path, leaf);
    ::fchmodat(parent.get(), leaf.c_str(), directory.mode, 0);
    set_times(parent.get(), leaf.c_str(), directory.mtime, AT_SYMLINK_NOFOLLOW);
  }
}

}  // namespace ibdriver::archive
