#include "fetch/part_file.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

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
  on_disk_ = size_;
  inherited_bytes_ = size_;
  if (::lseek(fd_.get(), 0, SEEK_END) < 0) throw FileError(ExitCode::operation_failed, "cannot seek", path_, errno);
}

PartFile::~PartFile() {
  try {
    stop_writer();
  } catch (const std::exception& error) {
    log::debug(fmt::format("{}: {}", path_.string(), error.what()));  // a failed download's leftovers
  }
}

void PartFile::catch_up_hash() {
  if (hashed_ == on_disk_) return;
  log::debug(fmt::format("hashing the {} bytes an earlier run left in {}", on_disk_, path_.string()));
  hash_file_prefix(path_, on_disk_, hash_);
  hashed_ = on_disk_;
}

void PartFile::append(const char* data, std::size_t size) {
  while (size > 0) {
    if (filling_.capacity() < block_size) filling_.reserve(block_size);
    std::size_t take = std::min(size, block_size - filling_.size());
    filling_.insert(filling_.end(), data, data + take);
    data += take;
    size -= take;
    size_ += take;
    if (filling_.size() == block_size) hand_over();
  }
}

void PartFile::hand_over() {
  std::unique_lock lock(mutex_);
  // At most max_waiting blocks wait: the download slows to the disk's pace instead of filling memory.
  changed_.wait(lock, [&] { return failure_ || waiting_.size() < max_waiting; });
  if (failure_) {
    // The writer stopped at its failure: what was accepted after it is not in the file.
    filling_.clear();
    size_ = on_disk_;
    std::rethrow_exception(failure_);
  }
  if (!writer_.joinable()) writer_ = std::thread([this] { write_loop(); });  // before the block is queued
  waiting_.push_back(std::move(filling_));
  if (!spare_.empty()) {
    filling_ = std::move(spare_.back());
    spare_.pop_back();
  } else {
    filling_ = {};
  }
  filling_.clear();
  changed_.notify_all();
}

void PartFile::stop_writer() {
  if (!writer_.joinable()) {  // less than a block so far: written here
    if (filling_.empty() || !fd_.valid()) return;
    auto block = std::exchange(filling_, {});
    try {
      write_block(block);
    } catch (...) {
      size_ = on_disk_;
      throw;
    }
    return;
  }
  {
    std::lock_guard lock(mutex_);
    if (!filling_.empty() && !failure_) waiting_.push_back(std::move(filling_));
    filling_ = {};
    stopping_ = true;
    changed_.notify_all();
  }
  writer_.join();
  writer_ = {};
  stopping_ = false;
  if (failure_) {
    size_ = on_disk_;
    std::rethrow_exception(std::exchange(failure_, nullptr));
  }
}

void PartFile::write_loop() {
  pthread_setname_np(pthread_self(), "ibdriver-write");  // for top -H and perf
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return !waiting_.empty() || stopping_; });
    if (waiting_.empty()) return;  // stopping, and all written
    auto block = std::move(waiting_.front());
    waiting_.pop_front();
    lock.unlock();
    std::exception_ptr failed;
    try {
      write_block(block);
    } catch (...) {
      failed = std::current_exception();
    }
    block.clear();
    lock.lock();
    if (spare_.size() < max_waiting) spare_.push_back(std::move(block));
    changed_.notify_all();
    if (failed) {
      failure_ = failed;
      waiting_.clear();  // after a failed write the file's end is unknown: nothing more is written
      return;
    }
  }
}

void PartFile::write_block(const std::vector<char>& block) {
  catch_up_hash();
  hash_.update(block.data(), block.size());
  const char* data = block.data();
  std::size_t size = block.size();
  while (size > 0) {
    ssize_t written = ::write(fd_.get(), data, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      int error_number = errno;
      hashed_ = 0;  // the hash covers bytes the file does not hold: recomputed from the file if asked
      hash_.reset();
      throw FileError(ExitCode::operation_failed, "cannot write", path_, error_number,
                      error_number == ENOSPC ? "free space on that file system or choose another cache folder"
                                             : std::string{});
    }
    data += written;
    size -= static_cast<std::size_t>(written);
    on_disk_ += static_cast<std::uint64_t>(written);
  }
  hashed_ = on_disk_;
}

void PartFile::discard_unwritten() {
  {
    std::lock_guard lock(mutex_);
    waiting_.clear();
  }
  filling_.clear();
  try {
    stop_writer();
  } catch (const std::exception& error) {
    log::debug(fmt::format("{}: {} (its bytes are dropped)", path_.string(), error.what()));
  }
}

void PartFile::truncate() {
  discard_unwritten();  // they would be truncated anyway
  if (::ftruncate(fd_.get(), 0) != 0 || ::lseek(fd_.get(), 0, SEEK_SET) < 0) {
    throw FileError(ExitCode::operation_failed, "cannot truncate", path_, errno);
  }
  size_ = 0;
  on_disk_ = 0;
  hashed_ = 0;
  inherited_bytes_ = 0;
  hash_.reset();
}

std::string PartFile::finish_hash() {
  stop_writer();
  catch_up_hash();
  auto digest = hash_.finish();
  hashed_ = 0;  // the hash state is empty again: a later append would re-read the file first
  return digest;
}

void PartFile::close() {
  stop_writer();
  // No fsync: a cache entry is re-hashed before every reuse, so a crash cannot make torn bytes count.
  if (fd_.valid() && ::close(fd_.release()) != 0) {
    throw FileError(ExitCode::operation_failed, "cannot close", path_, errno);
  }
}

void PartFile::remove() {
  discard_unwritten();
  fd_.reset();
  std::error_code error;
  std::filesystem::remove(path_, error);
}

}  // namespace ibdriver::fetch
