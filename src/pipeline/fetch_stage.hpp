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

// The release a fetch brings, chosen once: an offline bundle's (its catalog row or pinned SHA-256), a
// pinned URL with its SHA-256, the catalog's for another machine's OS, or this machine's plan (exit
// 10-13 from detection, 12 without a release). Error 1 for a URL without its SHA-256.
catalog::Resolution choose_fetch_release(const SystemRoot& root, const FetchOptions& options);

// The fetch stage for a chosen release: brings it into the cache from the cache itself, an offline
// bundle, mirrors or its URL, verified; unpacks it (streamed) and exports it when asked. Error 14 for
// a release that downloads nothing (distro packages: the caller says there is nothing to fetch).
FetchStageResult run_fetch(const SystemRoot& root, const catalog::DriverRelease& release, const FetchOptions& options,
                           fetch::DownloadObserver& observer);

std::filesystem::path default_cache_dir(const SystemRoot& root);

// The release an offline bundle is: the row with its file name in the machine's catalog (--catalog >
// signed channel > built-in), or the SHA-256 given.
catalog::DriverRelease release_for_bundle(const SystemRoot& root, const FetchOptions& options);

}  // namespace ibdriver::pipeline
