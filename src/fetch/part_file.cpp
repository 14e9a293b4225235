#include "fetch/part_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/log.hpp"

namespace ibdriver::fetch {

PartFile::PartFile(std::filesystem::path path) : path_(std::move(path)) {
  fd_.reset(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd_.valid()) throw FileError(ExitCode::operation_failed, "cannot create", path_, errno);
  if (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    log::info(fmt::format("waiting for another ibdriver that is downloading into {}", path_.string()));
    if (::flock(fd_.get(), LOCK_EX) != 0) throw FileError(ExitCode::operation_failed, "cannot lock", path_, errno);
  }
  struct stat status {};
  if (::fstat(fd_.get(), &status) != 0) throw FileError(ExitCode::operation_failed, "cannot stat", path_, errno);
  size_ = static_cast<std::uint64_t>(status.st_size);
  inherited_bytes_ = size_;
  if (::lseek(fd_.get(), 0, SEEK_END) < 0) throw FileError(ExitCode::operation_failed, "cannot seek", path_, errno);
}

void PartFile::catch_up_hash() {
  if (hashed_ == size_) return;
  log::debug(fmt::format("hashing the {} bytes an earlier run left in {}", size_, path_.string()));
  hash_file_prefix(path_, size_, hash_);
  hashed_ = size_;
}

void PartFile::append(const char* data, std::size_t size) {
  catch_up_hash();
  hash_.update(data, size);
  while (size > 0) {
    ssize_t written = ::write(fd_.get(), data, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      int error_number = errno;
      throw FileError(ExitCode::operation_failed, "cannot write", path_, error_number,
                      error_number == ENOSPC ? "free space on that file system or choose another cache folder"
                                             : std::string{});
    }
    data += written;
    size -= static_cast<std::size_t>(written);
    size_ += static_cast<std::uint64_t>(written);
  }
  hashed_ = size_;
}

void PartFile::truncate() {
  if (::ftruncate(fd_.get(), 0) != 0 || ::lseek(fd_.get(), 0, SEEK_SET) < 0) {
    throw FileError(ExitCode::operation_failed, "cannot truncate", path_, errno);
  }
  size_ = 0;
  hashed_ = 0;
  inherited_bytes_ = 0;
  hash_.reset();
}

std::string PartFile::finish_hash() {
  catch_up_hash();
  auto digest = hash_.finish();
  hashed_ = 0;  // the hash state is empty again: a later append would re-read the file first
  return digest;
}

void PartFile::close() {
  // No fsync: a cache entry is re-hashed before every reuse, so a crash cannot make torn bytes count.
  if (fd_.valid() && ::close(fd_.release()) != 0) {
    throw FileError(ExitCode::operation_failed, "cannot close", path_, errno);
  }
}

void PartFile::remove() {
  fd_.reset();
  std::error_code error;
  std::filesystem::remove(path_, error);
}

}  // namespace ibdriver::fetch
