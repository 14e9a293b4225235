#include "pipeline/fetch_stage.hpp"

#include <fmt/format.h>

#include "catalog/channel.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "net/extra_ca.hpp"
#include "platform/machine_arch.hpp"
#include "pipeline/streamed_unpack.hpp"

namespace ibdriver::pipeline {

namespace {

catalog::Resolution resolve_for_os(const SystemRoot& root, const FetchOptions& options, const std::string& spec) {
  auto colon = spec.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size()) {
    throw Error(ExitCode::usage, fmt::format("the OS \"{}\" is not ID:VERSION", text::printable(spec)),
                "e.g. ubuntu:22.04 or almalinux:8.10 (os-release's ID and VERSION_ID)", {{Knob::os_spec, "ubuntu:22.04"}});
  }
  catalog::ResolveRequest request;
  request.os_id = text::to_lower(spec.substr(0, colon));
  request.os_version = spec.substr(colon + 1);
  if (request.os_id == "almalinux" || request.os_id == "rocky" || request.os_id == "ol") request.os_id_like = {"rhel"};
  request.driver_version = options.plan.driver_version;
  // Another machine's OS, and its arch when --arch says it (this machine's otherwise).
  request.arch = options.plan.arch ? platform::canonical_arch(*options.plan.arch).value_or(*options.plan.arch)
                                   : platform::detect_machine_arch(root);
  return catalog::resolve(catalog::load_machine_catalog(root, options.plan.catalog_overlay), request);
}

}  // namespace

catalog::Resolution choose_fetch_release(const SystemRoot& root, const FetchOptions& options) {
  if (options.bundle) return {release_for_bundle(root, options), "the offline bundle's"};
  if (options.plan.driver_url.has_value() != options.plan.sha256.has_value()) {
    throw Error(ExitCode::usage, "a bundle URL and its SHA-256 go together",
                "a download is only accepted when its SHA-256 is known in advance", {{Knob::driver_url, {}}});
  }
  if (options.plan.driver_url) {
    return {catalog::pinned_release(*options.plan.driver_url, options.plan.sha256.value_or("")), "pinned by URL and SHA-256"};
  }
  if (options.for_os) return resolve_for_os(root, options, *options.for_os);
  auto plan = make_plan(root, options.plan);
  if (plan.exit_code != ExitCode::success || !plan.resolution) {
    throw Error(plan.exit_code == ExitCode::success ? ExitCode::os_not_supported : plan.exit_code, plan.failure,
                plan.failure_hint, plan.failure_remedies);
  }
  return *plan.resolution;
}

std::filesystem::path default_cache_dir(const SystemRoot& root) { return root.path("/var/cache/ibdriver"); }

// The release an offline bundle is: the catalog row with its file name, or the --sha256 given.
catalog::DriverRelease release_for_bundle(const SystemRoot& root, const FetchOptions& options) {
  auto name = options.bundle->filename().string();
  if (options.plan.sha256) {
    auto release = catalog::pinned_release("https://offline.invalid/" + name, *options.plan.sha256);
    release.origin = "offline bundle";
    return release;
  }
  auto catalog = catalog::load_machine_catalog(root, options.plan.catalog_overlay);
  for (const auto& release : catalog.releases) {
    if (release.file_name() == name) return release;
  }
  throw Error(ExitCode::usage, fmt::format("no catalog row has the file name {}, so the bundle cannot be verified", name),
              "give its SHA-256, or keep the file name the export gave it", {{Knob::bundle_sha256, {}}});
}


FetchStageResult run_fetch(const SystemRoot& root, const catalog::DriverRelease& release, const FetchOptions& options,
                           fetch::DownloadObserver& observer) {
  if (!release.downloads()) {
    throw Error(ExitCode::operation_failed,
                fmt::format("{} {} is the distribution's own packages ({}): there is nothing to download", to_string(release.kind),
                            release.version, release.default_profile()),
                "install them from the distribution's configured repositories (install does)");
  }
  if (options.transfer.extra_ca) net::check_ca_file(*options.transfer.extra_ca);
  fetch::BundleCache cache(options.cache_dir.value_or(default_cache_dir(root)));
  FetchStageResult result;
  result.release = release;
  if (options.bundle) {
    log::info(fmt::format("verifying the offline bundle {}", options.bundle->string()));
    result.fetched = fetch::import_bundle(*options.bundle, result.release.sha256, cache);
  } else {
    fetch::BundleSource source;
    source.url = result.release.url;
    source.sha256 = result.release.sha256;
    source.file_name = result.release.file_name();
    source.size = result.release.size_bytes;
    source.mirrors = options.mirrors;
    source.allow_plain_http = true;  // every source here has a pinned SHA-256
    log::info(fmt::format("fetching {} {} ({})", to_string(result.release.kind), result.release.version, source.file_name));
    if (options.unpack_to) {
      auto unpacked = fetch_and_unpack(source, cache, options.transfer, observer, *options.unpack_to, options.limits);
      result.fetched = unpacked.fetched;
      result.unpacked = unpacked.report;
      result.streamed = unpacked.streamed;
    } else {
      result.fetched = fetch::fetch_bundle(source, cache, options.transfer, observer);
    }
  }
  if (options.unpack_to && !result.unpacked) {
    result.unpacked = archive::unpack_file(result.fetched.path, *options.unpack_to, options.limits, result.release.file_name());
  }
  if (options.export_to) {
    result.exported = fetch::export_bundle(result.fetched, options.bundle ? options.bundle->filename().string()
                                                                          : result.release.file_name(),
                                           *options.export_to);
  }
  return result;
}

}  // namespace ibdriver::pipeline
