#include "archive/byte_source.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "core/error.hpp"

namespace ibdriver::archive {

FileByteSource::FileByteSource(const std::filesystem::path& file)
    : path_(file), fd_(::open(file.c_str(), O_RDONLY | O_CLOEXEC)), buffer_(1 << 20) {
  if (!fd_.valid()) throw FileError(ExitCode::operation_failed, "cannot open the archive", file, errno);
  ::posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
}

std::string_view FileByteSource::next() {
  while (true) {
    ssize_t got = ::read(fd_.get(), buffer_.data(), buffer_.size());
    if (got >= 0) return count(std::string_view(buffer_.data(), static_cast<std::size_t>(got)));
    if (errno != EINTR) throw FileError(ExitCode::operation_failed, "cannot read the archive", path_, errno);
  }
}

std::string_view PrefixedSource::next() {
  if (!prefix_sent_) {
    prefix_sent_ = true;
    if (!prefix_.empty()) return count(prefix_);
  }
  return count(inner_.next());
}

}  // namespace ibdriver::archive
