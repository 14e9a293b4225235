#pragma once
#include <filesystem>

#include "archive/extract.hpp"
#include "fetch/bundle_fetch.hpp"

namespace ibdriver::pipeline {

struct UnpackedFetch {
  fetch::FetchResult fetched;
  archive::ExtractionReport report;
  bool streamed = false;  // unpacked while downloading (false: from the verified cached file)
};

// download -> hash -> cache file -> inflate -> tar -> files, in one pass over the bytes: the download
// thread hashes and caches, a second thread unpacks into a staging folder beside `target` as the bytes
// arrive. The staging folder becomes `target` only when the whole archive was read and the SHA-256
// matched; otherwise it is removed. When the stream cannot be followed (a resumed .part, a server that
// restarted the file), the verified cached file is unpacked instead. Memory stays bounded.
UnpackedFetch fetch_and_unpack(const fetch::BundleSource& source, const fetch::BundleCache& cache,
                               const fetch::TransferSettings& settings, fetch::DownloadObserver& observer,
                               const std::filesystem::path& target, const archive::ExtractionLimits& limits);

}  // namespace ibdriver::pipeline
