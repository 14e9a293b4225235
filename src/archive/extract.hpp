#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "archive/byte_source.hpp"
#include "archive/extraction_limits.hpp"

namespace ibdriver::archive {

struct ExtractionReport {
  std::uint64_t entries = 0;
  std::uint64_t files = 0;
  std::uint64_t directories = 0;
  std::uint64_t symlinks = 0;
  std::uint64_t hardlinks = 0;
  std::uint64_t bytes = 0;           // unpacked file bytes
  std::uint64_t compressed_bytes = 0;  // what was read from the source
  bool isal = false;                 // the gzip layer was inflated with ISA-L
};

struct ListedEntry {
  std::string path;
  char type = '?';  // f file, d folder, l symlink, h hard link, other: c b p s
  std::uint64_t size = 0;
  std::string link_target;
};

// Reads a .tar (.gz/.tgz, .xz, .bz2, .zst), a .deb (its data.tar.*) or an .rpm (its cpio payload)
// from `source` and writes its entries into `folder`, which must exist and be empty. Every hostile
// entry is refused with Error (operation_failed) naming `name` and the entry; the caller removes the
// folder (StagedUnpack does).
ExtractionReport extract_archive(ByteSource& source, const std::string& name, const std::filesystem::path& folder,
                                 const ExtractionLimits& limits);

std::vector<ListedEntry> list_archive(ByteSource& source, const std::string& name, const ExtractionLimits& limits);

// Extraction into a staging folder beside the target, promoted by a rename only when asked; removed
// (with everything in it) otherwise. The target must not exist, or be an empty folder.
class StagedUnpack {
 public:
  explicit StagedUnpack(std::filesystem::path target);
  StagedUnpack(const StagedUnpack&) = delete;
  StagedUnpack& operator=(const StagedUnpack&) = delete;
  ~StagedUnpack();

  const std::filesystem::path& staging() const { return staging_; }
  void promote();  // rename staging -> target
  void clear();    // empties the staging folder (to start over)

 private:
  std::filesystem::path target_;
  std::filesystem::path staging_;
  bool promoted_ = false;
};

// unpack ARCHIVE --to DIR: extract_archive through a StagedUnpack. `name` is what messages call the
// archive (default: its file name; a cache entry is better named by the bundle it holds).
ExtractionReport unpack_file(const std::filesystem::path& archive_file, const std::filesystem::path& target,
                             const ExtractionLimits& limits, const std::string& name = {});

}  // namespace ibdriver::archive
