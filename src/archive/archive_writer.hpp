#pragma once
#include <sys/types.h>

#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

struct archive;
struct archive_entry;

namespace ibdriver::archive {

enum class WriteFormat {
  ar,        // the outer layer of a .deb (deb(5): "debian-binary", "control.tar.gz", "data.tar.gz")
  tar_gzip,  // POSIX ustar/pax, gzip-compressed (a .deb's control.tar.gz and data.tar.gz)
};

// The one owner of a libarchive write handle, writing one archive file. Entries are written in the
// order they are added; a file from disk is streamed in 64 KiB blocks (bounded memory whatever its size).
// Every failure throws Error (operation_failed) naming the archive and the entry.
class ArchiveWriter {
 public:
  // Creates (or truncates) FILE.
  ArchiveWriter(const std::filesystem::path& file, WriteFormat format);
  ArchiveWriter(const ArchiveWriter&) = delete;
  ArchiveWriter& operator=(const ArchiveWriter&) = delete;
  ~ArchiveWriter();

  // A regular file NAME holding CONTENT (owner root:root).
  void add_file(const std::string& name, std::string_view content, mode_t mode, std::time_t mtime);
  // NAME as SOURCE is on the disk, not following a symbolic link: a folder, a symbolic link (its
  // target as it is written) or a regular file (its bytes), with its mode, owner and mtime.
  // Other kinds (devices, sockets) are refused.
  void add_from_disk(const std::string& name, const std::filesystem::path& source);
  // Writes the archive's trailer and closes the file; the destructor does it without error reporting.
  void finish();

 private:
  struct WriteDeleter {
    void operator()(struct archive* handle) const noexcept;
  };
  struct EntryDeleter {
    void operator()(struct archive_entry* entry) const noexcept;
  };
  [[noreturn]] void fail(const std::string& doing) const;
  void write_header(struct archive_entry* entry, const std::string& name);

  std::unique_ptr<struct archive, WriteDeleter> handle_;
  std::filesystem::path file_;
  bool finished_ = false;
};

}  // namespace ibdriver::archive
