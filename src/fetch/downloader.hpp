#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fetch/part_file.hpp"
#include "fetch/transfer_settings.hpp"

namespace ibdriver::fetch {

// Told what a download is doing; the CLI draws a progress bar, the extension writes its status file.
class DownloadObserver {
 public:
  virtual ~DownloadObserver() = default;
  virtual void on_source(std::string_view /*shown_url*/, std::uint64_t /*resume_from*/) {}
  virtual void on_progress(std::uint64_t /*bytes*/, std::optional<std::uint64_t> /*total*/) {}
  virtual void on_retry(std::string_view /*reason*/, int /*attempt*/, std::chrono::milliseconds /*wait*/) {}
  // The bytes as they are written at `offset` of the file (a streaming consumer can unpack them
  // while they arrive; an offset it did not expect means the download restarted).
  virtual void on_data(std::uint64_t /*offset*/, const char* /*data*/, std::size_t /*size*/) {}
};

struct DownloadRequest {
  std::vector<std::string> urls;  // tried in order: mirrors, then the catalog's URL
  std::string sha256;             // expected, lower-case hex: nothing else is ever accepted
  std::optional<std::uint64_t> expected_size;
};

struct DownloadOutcome {
  std::string sha256;
  std::uint64_t bytes = 0;
  std::string url;  // the source that delivered, without its query
  bool resumed = false;  // some bytes came from an interrupted attempt or an earlier run
  int attempts = 0;         // requests made to every source tried, busy answers included
  int source_requests = 0;  // of those, to the source that delivered (`url`)
  // Slept because the delivering source was busy (429/503 with Retry-After) and said when to come
  // back: a fleet operator tells a slow mirror from a slow node by it.
  std::chrono::milliseconds busy_waited{0};
};

// Downloads into `part` until it holds bytes whose SHA-256 is the expected one: resumes with Range
// after interruptions (within the run and across runs), retries with backoff, aborts stalls, moves to
// the next source when one cannot serve the file. Throws Error (operation_failed) naming every source
// and why it failed; a checksum mismatch names the URL, the expected and the actual sum. On failure
// `part` keeps only bytes worth resuming from (never bytes known to be wrong).
DownloadOutcome download(const DownloadRequest& request, PartFile& part, const TransferSettings& settings,
                         DownloadObserver& observer);

// The URL of a file on a mirror: BASE_URL/FILE, with the file name before any ?query (a SAS token).
std::string mirror_url(std::string_view base, std::string_view file_name);

}  // namespace ibdriver::fetch
