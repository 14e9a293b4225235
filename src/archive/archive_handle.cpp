#include "archive/detail/archive_handle.hpp"

#include <fmt/format.h>

#include "archive/byte_source.hpp"
#include "core/error.hpp"

namespace ibdriver::archive {

ArchiveReadHandle::ArchiveReadHandle(ByteSource& source, std::string name, bool raw_tar)
    : handle_(archive_read_new()), source_(source), name_(std::move(name)) {
  if (!handle_) throw Error(ExitCode::operation_failed, "libarchive could not create a reader");
  if (raw_tar) {
    archive_read_support_filter_none(get());
    archive_read_support_format_tar(get());
    archive_read_support_format_gnutar(get());
  } else {
    archive_read_support_filter_all(get());
    archive_read_support_format_tar(get());
    archive_read_support_format_gnutar(get());
    archive_read_support_format_cpio(get());
    archive_read_support_format_ar(get());
  }
  if (archive_read_open(get(), this, nullptr, &read_callback, nullptr) != ARCHIVE_OK) fail("opening");
}

la_ssize_t ArchiveReadHandle::read_callback(struct archive* handle, void* self, const void** buffer) {
  auto* reader = static_cast<ArchiveReadHandle*>(self);
  try {
    auto block = reader->source_.next();
    *buffer = block.data();
    return static_cast<la_ssize_t>(block.size());
  } catch (...) {
    reader->source_error_ = std::current_exception();
    archive_set_error(handle, EIO, "the archive's source failed");
    return -1;
  }
}

void ArchiveReadHandle::fail(const std::string& doing) const {
  if (source_error_) std::rethrow_exception(source_error_);
  const char* message = archive_error_string(get());
  throw Error(ExitCode::operation_failed,
              fmt::format("{} {}: {}", doing, name_, message != nullptr ? message : "unknown libarchive error"),
              "the archive is corrupt, truncated or of an unsupported kind: fetch it again");
}

}  // namespace ibdriver::archive
