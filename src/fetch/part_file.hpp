#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "core/unique_fd.hpp"
#include "fetch/sha256.hpp"

namespace ibdriver::fetch {

// The bytes of a download so far, on disk, and the SHA-256 of exactly those bytes. Appends are
// hashed as they are written, so the file is never read back; only a .part left by an earlier run is
// read once, to bring the hash up to where it ends. Locked (flock) against a concurrent fetch.
//
// Write-behind: append() only copies into a 1 MiB block; a thread of its own hashes and writes full
// blocks (at most 8 waiting, about 10 MiB in all with the one filling and the one being written), so the thread that receives (TLS) is not also the one that hashes and
// writes. On 2 cores that balance is what a streamed fetch and unpack waits on (bench/unpack_bench.py).
// A write failure (ENOSPC...) is thrown by the next append(), finish_hash() or close().
class PartFile {
 public:
  explicit PartFile(std::filesystem::path path);
  PartFile(const PartFile&) = delete;
  PartFile& operator=(const PartFile&) = delete;
  // Writes what was appended (a later run resumes from it) and stops the writer; never throws.
  ~PartFile();

  const std::filesystem::path& path() const { return path_; }
  // Bytes of the download so far: on disk, or accepted and about to be.
  std::uint64_t size() const { return size_; }
  // Whether the bytes on disk came from an earlier run (their origin is unknown).
  bool inherited() const { return inherited_bytes_ > 0; }

  void append(const char* data, std::size_t size);  // throws FileError (ENOSPC names the disk)
  void truncate();                                   // back to zero bytes, hash reset
  std::string finish_hash();                          // digest of all bytes; resets the hash
  void close();                                       // writes what is left; no fsync
  void remove();                                      // deletes the file, dropping what was not written

 private:
  static constexpr std::size_t block_size = 1 << 20;
  static constexpr std::size_t max_waiting = 8;

  void hand_over();  // the filling block to the writer (started at the first one)
  void stop_writer();        // writes what was handed over, then joins; rethrows the writer's failure
  void discard_unwritten();  // drops what is not written yet (and a failure to write it), then joins
  void write_loop();                          // the writer thread
  void write_block(const std::vector<char>& block);  // hash, then write(2) it whole
  void catch_up_hash();

  std::filesystem::path path_;
  UniqueFd fd_;
  std::uint64_t size_ = 0;     // accepted (the caller's view)
  std::uint64_t on_disk_ = 0;  // written; the writer's while it runs
  std::uint64_t hashed_ = 0;
  std::uint64_t inherited_bytes_ = 0;
  Sha256 hash_;

  std::vector<char> filling_;  // the caller's thread alone touches it
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::vector<char>> waiting_;  // handed over, not yet written
  std::vector<std::vector<char>> spare_;   // written, for reuse
  bool stopping_ = false;
  std::exception_ptr failure_;  // the writer's, thrown on the caller's thread
  std::thread writer_;
};

}  // namespace ibdriver::fetch
