#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "archive/extract.hpp"
#include "catalog/resolver.hpp"
#include "core/system_root.hpp"
#include "fetch/bundle_fetch.hpp"
#include "pipeline/plan.hpp"

namespace ibdriver::pipeline {

struct FetchOptions {
  PlanOptions plan;                        // how the release is chosen (detect + resolve, or pinned)
  std::optional<std::string> for_os;       // --os ID:VERSION: resolve for another machine, no detection
  std::vector<std::string> mirrors;        // --mirror, in order
  std::optional<std::filesystem::path> cache_dir;  // default <root>/var/cache/ibdriver
  fetch::TransferSettings transfer;
  std::optional<std::filesystem::path> export_to;  // --to DIR
  std::optional<std::filesystem::path> bundle;     // --bundle FILE (offline)
  std::optional<std::filesystem::path> unpack_to;  // --unpack-to DIR: streamed, promoted after the hash matched
  archive::ExtractionLimits limits;
};

struct FetchStageResult {
  catalog::DriverRelease release;  // what was fetched (for --bundle: the row it matched, or a pinned one)
  fetch::FetchResult fetched;
  std::optional<std::filesystem::path> exported;
  std::optional<archive::ExtractionReport> unpacked;
  bool streamed = false;
};

// The fetch stage: choose the release (exit 10-13 from detection, 12 without a release), then bring
// it into the cache from the cache itself, an offline bundle, mirrors or its URL; export it with --to.
FetchStageResult run_fetch(const SystemRoot& root, const FetchOptions& options, fetch::DownloadObserver& observer);

std::filesystem::path default_cache_dir(const SystemRoot& root);

// The release an offline bundle is: the catalog row with its file name, or the --sha256 given.
catalog::DriverRelease release_for_bundle(const FetchOptions& options);

}  // namespace ibdriver::pipeline
