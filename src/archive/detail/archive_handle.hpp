#pragma once
#include <archive.h>

#include <exception>
#include <memory>
#include <string>

namespace ibdriver::archive {

class ByteSource;

// The one owner of a libarchive read handle that pulls its bytes from a ByteSource. All filters
// (gzip, xz, bzip2, zstd, rpm) and formats (tar, cpio, ar) are enabled; `raw_tar` limits it to tar
// without filters (when ISA-L already inflated the gzip layer).
class ArchiveReadHandle {
 public:
  ArchiveReadHandle(ByteSource& source, std::string name, bool raw_tar);
  ArchiveReadHandle(const ArchiveReadHandle&) = delete;
  ArchiveReadHandle& operator=(const ArchiveReadHandle&) = delete;
  ~ArchiveReadHandle() = default;

  struct archive* get() const noexcept { return handle_.get(); }
  // Throws the source's own error if it caused the failure, else an Error with libarchive's message.
  [[noreturn]] void fail(const std::string& doing) const;

 private:
  struct Deleter {
    void operator()(struct archive* handle) const noexcept { archive_read_free(handle); }
  };
  static la_ssize_t read_callback(struct archive* handle, void* self, const void** buffer);

  std::unique_ptr<struct archive, Deleter> handle_;
  ByteSource& source_;
  std::string name_;
  std::exception_ptr source_error_;  // a source failure cannot cross libarchive's C frames
};

}  // namespace ibdriver::archive
