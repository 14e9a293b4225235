#pragma once
#include <cstdint>
#include <filesystem>

#include "core/unique_fd.hpp"
#include "fetch/sha256.hpp"

namespace ibdriver::fetch {

// The bytes of a download so far, on disk, and the SHA-256 of exactly those bytes. Appends are
// hashed as they are written, so the file is never read back; only a .part left by an earlier run is
// read once, to bring the hash up to where it ends. Locked (flock) against a concurrent fetch.
class PartFile {
 public:
  explicit PartFile(std::filesystem::path path);
  const std::filesystem::path& path() const { return path_; }
  std::uint64_t size() const { return size_; }
  // Whether the bytes on disk came from an earlier run (their origin is unknown).
  bool inherited() const { return inherited_bytes_ > 0; }

  void append(const char* data, std::size_t size);  // throws FileError (ENOSPC names the disk)
  void truncate();                                   // back to zero bytes, hash reset
  std::string finish_hash();                          // digest of all bytes; resets the hash
  void close();                                       // flushes to disk
  void remove();                                      // deletes the file

 private:
  void catch_up_hash();

  std::filesystem::path path_;
  UniqueFd fd_;
  std::uint64_t size_ = 0;
  std::uint64_t hashed_ = 0;
  std::uint64_t inherited_bytes_ = 0;
  Sha256 hash_;
};

}  // namespace ibdriver::fetch
