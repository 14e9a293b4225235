#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "fetch/bundle_cache.hpp"
#include "fetch/downloader.hpp"
#include "fetch/transfer_settings.hpp"

namespace ibdriver::fetch {

// A driver bundle to bring into the cache.
struct BundleSource {
  std::string url;
  std::string sha256;
  std::string file_name;  // what it is called on disk and on mirrors
  std::optional<std::uint64_t> size;
  std::vector<std::string> mirrors;  // base URLs, tried before `url`
  bool allow_plain_http = false;      // only with a pinned SHA-256 (then a warning)
};

struct FetchResult {
  std::filesystem::path path;  // the verified file in the cache
  std::string sha256;
  std::uint64_t bytes = 0;
  double seconds = 0;
  bool from_cache = false;
  bool resumed = false;
  int attempts = 0;
  int source_requests = 0;                   // see DownloadOutcome
  std::chrono::milliseconds busy_waited{0};  // see DownloadOutcome
  std::string url;  // where it came from, without its query ("cache" or "bundle FILE" otherwise)
};

// Where the bytes came from and what it took, for a status or a log line, e.g. "from
// https://m.example/ofed/F.tgz in 3 requests, resumed, 1.2 s waiting on a busy server; 5 requests to
// other sources first" or "from the cache".
std::string describe_source(const FetchResult& result);

// The cached copy when it is intact, else a download (resumed from a .part where one exists).
// Plain http:// is refused unless allow_plain_http. Throws Error (14) when nothing delivers the bytes.
FetchResult fetch_bundle(const BundleSource& source, const BundleCache& cache, const TransferSettings& settings,
                         DownloadObserver& observer);

// An offline bundle (--bundle FILE): hashed once while it is copied into the cache; a mismatch is
// exit 14 naming the file, the expected and the actual sum, and nothing is kept.
FetchResult import_bundle(const std::filesystem::path& file, const std::string& sha256, const BundleCache& cache);

// Writes the bundle and a sha256sum-style FILE.sha256 into `folder` (the offline bundle an air-gapped
// machine installs from). Hard-links from the cache when it can, copies otherwise.
std::filesystem::path export_bundle(const FetchResult& fetched, const std::string& file_name,
                                    const std::filesystem::path& folder);

}  // namespace ibdriver::fetch
