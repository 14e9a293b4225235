#pragma once
#include <cstddef>
#include <cstdint>

namespace ibdriver::archive {

// What an archive may make ibdriver write. The defaults leave room for the largest real bundles
// (a DOCA/MLNX_OFED tarball unpacks to ~2 GB in ~1000 entries) and stop bombs long before a disk fills.
struct ExtractionLimits {
  std::uint64_t max_total_bytes = 16ULL << 30;
  std::uint64_t max_entries = 200000;
  std::size_t max_path_length = 4096;
  double max_ratio = 200.0;                 // unpacked bytes per compressed byte
  std::uint64_t ratio_grace_bytes = 64ULL << 20;  // small archives may compress well: no ratio check below this
};

}  // namespace ibdriver::archive
