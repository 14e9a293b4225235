#include "pipeline/install_stage.hpp"

#include <algorithm>
#include <chrono>
#include <set>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/cancel.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/files.hpp"
#include "core/process.hpp"
#include "core/run_lock.hpp"
#include "core/text.hpp"
#include "fetch/bundle_cache.hpp"
#include "install/doca_host.hpp"
#include "install/module_sources.hpp"
#include "install/boot_unit.hpp"
#include "install/mofed_bundle.hpp"
#include "platform/package_family.hpp"

namespace ibdriver::pipeline {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

fs::path bundle_dir(const SystemRoot& root, const std::string& sha256) {
  return root.path("/var/lib/ibdriver/bundles/" + sha256);
}

// The verified bundle file in the cache (a DOCA-host package is installed as the file it is); fetched
// again when the cache was cleaned since the bundle was unpacked.
fs::path verified_bundle_file(const SystemRoot& root, FetchOptions fetch_options, const catalog::DriverRelease& release,
                              fetch::DownloadObserver& observer) {
  fetch::BundleCache cache(fetch_options.cache_dir.value_or(default_cache_dir(root)));
  if (auto cached = cache.verified_entry(release.sha256)) return *cached;
  fetch_options.unpack_to.reset();
  run_fetch(root, fetch_options, observer);
  if (auto cached = cache.verified_entry(release.sha256)) return *cached;
  throw Error(ExitCode::operation_failed, fmt::format("{} is not in the cache {} after fetching it", release.file_name(), cache.dir().string()),
              "run `ibdriver install` again");
}

// Journals a configuration change before it is made; the first original is the one to restore.
void record_change(const SystemRoot& root, install::Journal& state, const install::ConfigChange& change) {
  bool known = std::any_of(state.configuration.begin(), state.configuration.end(),
                           [&](const auto& earlier) { return earlier.file == change.file; });
  if (!known) state.configuration.push_back(change);
  state.save(root);
}

// Secure Boot: every module file installed for the kernel is signed with this certificate's key.
bool modules_signed(const SystemRoot& root, const std::string& name, const std::string& version, const std::string& kernel,
                    const std::string& certificate) {
  auto files = install::dkms_installed_module_files(root, name, version, kernel);
  return std::all_of(files.begin(), files.end(), [&](const auto& file) {
    return install::module_signed_with(root.path(file), root.path(certificate));
  });
}

// What of the journal is no longer true on this machine (empty: everything is in place).
std::vector<std::string> verify_journal(const SystemRoot& root, const install::Journal& journal,
                                        const std::vector<std::string>& kernels, install::PackageManager* packages,
                                        const install::NodeSettings* node) {
  std::vector<std::string> missing;
  for (const char* stage : {"fetch", "packages", "dkms", "configure"}) {
    if (journal.stages.count(stage) == 0) missing.push_back(fmt::format("the {} stage did not finish", stage));
  }
  std::error_code error;
  if (!fs::exists(bundle_dir(root, journal.sha256), error)) missing.push_back("the unpacked bundle is gone");
  if (packages != nullptr) {
    for (const auto& package : packages->not_installed(journal.packages)) {
      missing.push_back(fmt::format("package {} is not installed", package));
    }
  }
  for (const auto& [name, version] : journal.dkms_modules) {
    auto built = install::dkms_installed_kernels(root, name, version);
    for (const auto& kernel : kernels) {
      if (built.count(kernel) == 0) {
        missing.push_back(fmt::format("DKMS module {}/{} is not installed for kernel {}", name, version, kernel));
        continue;
      }
      // DKMS's tree can say installed while the files are gone: what the kernel would find (`ibdriver repair` rebuilds).
      for (const auto& file : install::dkms_missing_module_files(root, name, version, kernel)) {
        missing.push_back(fmt::format("{} of DKMS module {}/{} is missing for kernel {}", file, name, version, kernel));
      }
    }
  }
  if (node != nullptr && !install::node_configured(root, *node)) missing.push_back("the node configuration changed");
  if (!install::boot_unit_installed(root)) missing.push_back(fmt::format("the boot-time repair ({}) is not enabled", install::boot_unit_name));
  if (!journal.mok_key.empty()) {
    if (!install::dkms_signing_configured(root, {journal.mok_key, journal.mok_certificate, "the journal"})) {
      missing.push_back(fmt::format("DKMS is no longer configured to sign with {} ({})", journal.mok_key, install::dkms_signing_dropin));
    }
    for (const auto& [name, version] : journal.dkms_modules) {
      for (const auto& kernel : kernels) {
        if (!modules_signed(root, name, version, kernel, journal.mok_certificate)) {
          missing.push_back(fmt::format("DKMS module {}/{} for kernel {} is not signed with {}", name, version, kernel, journal.mok_key));
        }
      }
    }
  }
  return missing;
}

install::NodeSettings node_settings(const InstallOptions& options) { return {options.fetch.plan.ipoib}; }

}  // namespace

InstallResult run_install(const SystemRoot& root, const InstallOptions& options, fetch::DownloadObserver& observer) {
  auto started = Clock::now();
  auto report = [&](std::string_view stage, StageEvent event, const std::string& message) {
    if (options.on_stage) options.on_stage(stage, event, message);
    if (event == StageEvent::done) throw_if_cancelled("installing");
  };
  InstallResult result;
  auto plan_options = options.fetch.plan;
  if (options.fetch.bundle) {
    // An offline bundle decides the release; the plan still checks the platform.
    auto release = release_for_bundle(options.fetch);
    plan_options.driver_url = release.url;
    plan_options.sha256 = release.sha256;
    plan_options.driver_version.reset();
  }
  std::optional<RunLock> lock;
  if (!options.dry_run) lock.emplace(root.path("/run/ibdriver.lock"), options.lock_wait);
  report("detect", StageEvent::started, "checking the platform");
  result.plan = make_plan(root, plan_options);
  if (result.plan.exit_code != ExitCode::success || !result.plan.resolution) {
    throw Error(result.plan.exit_code == ExitCode::success ? ExitCode::os_not_supported : result.plan.exit_code,
                result.plan.failure, result.plan.failure_hint);
  }
  const auto& release = result.plan.resolution->release;
  report("detect", StageEvent::done, "platform supported");
  report("resolve", StageEvent::done, fmt::format("{} {}", release.file_name(), release.version));
  const auto& kernels = result.plan.kernels;
  for (const auto& kernel : plan_options.kernels) {
    auto with_headers = result.plan.platform.kernels.with_headers();
    if (std::find(with_headers.begin(), with_headers.end(), kernel) == with_headers.end()) {
      throw Error(ExitCode::operation_failed, fmt::format("kernel {} has no headers (no /lib/modules/{}/build)", kernel, kernel),
                  fmt::format("install the headers of {} (on Debian/Ubuntu: linux-headers-{})", kernel, kernel));
    }
  }
  if (kernels.empty()) {
    throw Error(ExitCode::operation_failed, "no installed kernel has headers, so DKMS cannot build the drivers",
                "install the headers of the running kernel (linux-headers-$(uname -r)) and run again");
  }
  bool secure_boot_on = result.plan.platform.secure_boot.state == platform::SecureBootState::enabled;
  // Secure Boot pre-flight: a usable MOK key (made here with --generate-mok-key) before anything changes.
  result.signing = install::prepare_signing(root, options.signing, secure_boot_on, kernels, options.dry_run);
  if (options.dry_run) return result;

  auto family = result.plan.platform.os ? platform::package_family(*result.plan.platform.os) : platform::PackageFamily::unknown;
  auto packages = install::make_package_manager(family, root, options.packages);
  auto node = node_settings(options);
  auto journal = install::Journal::load(root);
  if (journal && journal->sha256 != release.sha256) {
    throw Error(ExitCode::operation_failed,
                fmt::format("{} is installed; this run would install {}", journal->release_file, release.file_name()),
                "run `ibdriver uninstall` first to change the driver release");
  }
  // A machine that now signs (Secure Boot turned on, another key) is not done, whatever else is in place.
  bool same_signing = !result.signing || (journal && journal->mok_key == result.signing->key.key &&
                                          journal->mok_certificate == result.signing->key.certificate);
  if (journal && same_signing && verify_journal(root, *journal, kernels, packages.get(), &node).empty()) {
    result.journal = *journal;
    result.nothing_to_do = true;
    result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    log::info(fmt::format("{} is installed and built for {}: nothing to do", release.file_name(), fmt::join(kernels, ", ")));
    for (const char* stage : {"fetch", "unpack", "packages", "dkms", "configure"}) report(stage, StageEvent::skipped, "already done");
    return result;
  }
  install::Journal state = journal.value_or(install::Journal{});
  state.release_version = release.version;
  state.release_file = release.file_name();
  state.sha256 = release.sha256;
  state.profile = result.plan.profile;
  auto unpacked = bundle_dir(root, release.sha256);
  state.bundle_dir = unpacked.string();
  state.save(root);

  // fetch + unpack (streamed; the folder appears by rename only once complete and verified)
  std::error_code error;
  if (!fs::exists(unpacked, error)) {
    report("fetch", StageEvent::started, fmt::format("downloading and unpacking {}", release.file_name()));
    auto fetch_options = options.fetch;
    fetch_options.plan = plan_options;
    fetch_options.unpack_to = unpacked;
    run_fetch(root, fetch_options, observer);
    result.stages.push_back("fetch");
  }
  state.stages["fetch"] = "done";
  state.save(root);
  report("fetch", StageEvent::done, fmt::format("{} verified (SHA-256 {})", release.file_name(), release.sha256));
  report("unpack", StageEvent::done, fmt::format("unpacked to {}", unpacked.string()));

  // packages (given as system paths: an RPM manager may work on a root other than "/")
  report("packages", StageEvent::started, fmt::format("installing {} with {}", state.profile, packages->name()));
  auto system_path = [&](const fs::path& host) { return fs::path("/") / fs::relative(host, root.root()); };
  auto record = [&](const std::vector<std::string>& added) {
    for (const auto& package : added) {
      if (std::find(state.packages.begin(), state.packages.end(), package) == state.packages.end()) state.packages.push_back(package);
    }
    state.save(root);
  };
  if (release.kind == catalog::BundleKind::doca_host) {
    auto package_file = unpacked / release.file_name();
    if (!fs::exists(package_file, error)) {
      auto fetch_options = options.fetch;
      fetch_options.plan = plan_options;
      install::keep_package_file(verified_bundle_file(root, fetch_options, release, observer), package_file);
    }
    auto doca = install::inspect_doca_host_bundle(unpacked, system_path(package_file), release, *packages);
    install::install_doca_host(*packages, root, doca, state.profile, record);
  } else {
    auto bundle = install::inspect_mofed_bundle(unpacked, release, packages->format());
    state.repository_files = packages->add_repository({"ibdriver", system_path(bundle.repository)});
    state.save(root);
    record(packages->install({state.profile}));
  }
  state.stages["packages"] = "done";
  state.save(root);
  result.stages.push_back("packages");
  report("packages", StageEvent::done, fmt::format("{} installed", state.profile));
  report("dkms", StageEvent::started, fmt::format("building the kernel modules for {}", fmt::join(kernels, ", ")));

  // dkms: every kernel with headers, BUILD_DEPENDS first; what `dkms status` shows is skipped
  auto with_profile = state.packages;
  with_profile.push_back(state.profile);
  install::Dkms dkms(options.dkms);
  if (result.signing) {
    state.mok_key = result.signing->key.key;
    state.mok_certificate = result.signing->key.certificate;
    state.mok_key_generated = state.mok_key_generated || result.signing->generated;
    install::configure_dkms_signing(root, result.signing->key,
                                    [&](const install::ConfigChange& change) { record_change(root, state, change); });
  }
  for (const auto& module : install::dkms_modules_of(*packages, root, with_profile)) {
    state.dkms_modules[module.name] = module.version;
    auto built = install::dkms_installed_kernels(root, module.name, module.version);
    for (const auto& kernel : kernels) {
      std::error_code missing;
      if (!fs::exists(root.path("/lib/modules/" + kernel + "/modules.dep"), missing) &&
          std::find(state.depmod_created.begin(), state.depmod_created.end(), kernel) == state.depmod_created.end()) {
        state.depmod_created.push_back(kernel);
        state.save(root);
      }
      // Installed per DKMS's tree but with files gone, or built unsigned before Secure Boot: build it again.
      bool rebuild = built.count(kernel) != 0 &&
                     (!install::dkms_missing_module_files(root, module.name, module.version, kernel).empty() ||
                      (result.signing && !modules_signed(root, module.name, module.version, kernel, result.signing->key.certificate)));
      if (rebuild) dkms.unbuild(module, kernel);
      if (built.count(kernel) == 0 || rebuild) dkms.install(module, kernel);
      if (result.signing && !modules_signed(root, module.name, module.version, kernel, result.signing->key.certificate)) {
        throw Error(ExitCode::operation_failed,
                    fmt::format("DKMS built {}/{} for kernel {} without a signature by {}, so Secure Boot will refuse to load it",
                                module.name, module.version, kernel, result.signing->key.key),
                    fmt::format("check DKMS's sign-file and {} (`dkms build -m {} -v {} -k {} --force` prints \"Signing module\")",
                                install::dkms_signing_dropin, module.name, module.version, kernel));
      }
      auto& list = state.dkms_kernels[module.name];
      if (std::find(list.begin(), list.end(), kernel) == list.end()) list.push_back(kernel);
      state.save(root);
    }
  }
  state.stages["dkms"] = "done";
  state.save(root);
  result.stages.push_back("dkms");
  report("dkms", StageEvent::done, fmt::format("modules built for {}", fmt::join(kernels, ", ")));

  // configure
  auto record_config = [&](const install::ConfigChange& change) { record_change(root, state, change); };
  install::configure_node(root, node, record_config);
  install::install_boot_unit(root, record_config);
  state.stages["configure"] = "done";
  state.save(root);
  result.stages.push_back("configure");
  report("configure", StageEvent::done, "modules load at boot; RDMA enabled for the Azure agent");
  if (options.validate) {
    report("validate", StageEvent::started, "waiting for an ACTIVE port in libibverbs");
    auto validation = verbs::validate(options.validation);
    verbs::require_passed(validation);
    log::info(fmt::format("validated: {}", validation.message));
    report("validate", StageEvent::done, validation.message);
  } else {
    report("validate", StageEvent::skipped, "skipped (--no-validate)");
  }

  result.journal = state;
  result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return result;
}

StatusReport installation_status(const SystemRoot& root) {
  StatusReport status;
  status.journal = install::Journal::load(root);
  status.kernels = platform::detect_kernels(root).with_headers();
  if (!status.journal) return status;
  std::unique_ptr<install::PackageManager> packages;
  try {
    packages = install::make_package_manager(platform::package_family(platform::read_os_release(root)), root, {});
  } catch (const Error& error) {
    status.missing.push_back(error.what());
  }
  status.missing = verify_journal(root, *status.journal, status.kernels, packages.get(), nullptr);
  return status;
}

void to_json(nlohmann::json& out, const StatusReport& status) {
  out = {{"installed", status.journal.has_value()},
         {"healthy", status.healthy()},
         {"kernels", status.kernels},
         {"missing", status.missing},
         {"journal", status.journal ? nlohmann::json(*status.journal) : nlohmann::json(nullptr)}};
}

install::Journal run_uninstall(const SystemRoot& root, std::chrono::seconds lock_wait) {
  RunLock lock(root.path("/run/ibdriver.lock"), lock_wait);
  auto journal = install::Journal::load(root);
  if (!journal) {
    log::info("ibdriver has installed nothing here: nothing to remove");
    return {};
  }
  install::Dkms dkms({});
  for (auto module = journal->dkms_modules.rbegin(); module != journal->dkms_modules.rend(); ++module) {
    dkms.remove(module->first, module->second);
  }
  auto packages = install::make_package_manager(platform::package_family(platform::read_os_release(root)), root, {});
  auto absent = packages->not_installed(journal->packages);
  std::vector<std::string> still_installed;
  for (const auto& package : journal->packages) {
    if (std::find(absent.begin(), absent.end(), package) == absent.end()) still_installed.push_back(package);
  }
  packages->remove(still_installed);
  packages->remove_repository(journal->repository_files);
  install::restore_configuration(root, journal->configuration);
  for (const auto& kernel : journal->depmod_created) {
    // Only an index that lists nothing any more is DKMS's alone; a kernel with modules keeps its own.
    auto folder = root.path("/lib/modules/" + kernel);
    std::error_code error;
    if (fs::exists(folder / "modules.dep", error) && fs::file_size(folder / "modules.dep", error) == 0) {
      for (const auto& entry : fs::directory_iterator(folder, error)) {
        if (entry.path().filename().string().rfind("modules.", 0) == 0) fs::remove(entry.path(), error);
      }
    }
  }
  std::error_code error;
  fs::remove_all(journal->bundle_dir, error);
  install::Journal::erase(root);
  log::info(fmt::format("removed {} and everything ibdriver added for it", journal->release_file));
  return *journal;
}

}  // namespace ibdriver::pipeline
