#include "pipeline/install_stage.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/cancel.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/run_lock.hpp"
#include "pipeline/detail/stages.hpp"
#include "platform/package_family.hpp"

namespace ibdriver::pipeline {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }
// The package manager for the root's OS; null (with the reason) when there is none ibdriver knows.
std::unique_ptr<install::PackageManager> package_manager_for(const SystemRoot& root, const install::PackageManagerSettings& settings,
                                                             std::string& unavailable) {
  try {
    return install::make_package_manager(platform::package_family(platform::read_os_release(root)), root, settings);
  } catch (const Error& error) {
    unavailable = error.what();
    return nullptr;
  }
}

void require_kernels(const Plan& plan, const PlanOptions& options) {
  // Prebuilt modules (the distribution's packages, MLNX_OFED kmods): DKMS builds nothing, no headers are needed.
  if (!plan.builds_modules) return;
  auto with_headers = plan.platform.kernels.with_headers();
  for (const auto& kernel : options.kernels) {
    if (std::find(with_headers.begin(), with_headers.end(), kernel) == with_headers.end()) {
      throw Error(ExitCode::operation_failed, fmt::format("kernel {} has no headers (no /lib/modules/{}/build)", kernel, kernel),
                  fmt::format("install the headers of {} (on Debian/Ubuntu: linux-headers-{})", kernel, kernel));
    }
  }
  if (plan.kernels.empty()) {
    throw Error(ExitCode::operation_failed, "no installed kernel has headers, so DKMS cannot build the drivers",
                "install the headers of the running kernel (linux-headers-$(uname -r)) and run again");
  }
}

// Undoes every stage of the journal's install, newest first, and erases the journal.
void undo_all(const SystemRoot& root, install::Journal& journal, install::PackageManager* packages, const std::string& unavailable) {
  detail::StageContext context{root, journal, {}, packages, unavailable};
  auto stages = detail::install_stages();
  for (auto stage = stages.rbegin(); stage != stages.rend(); ++stage) (*stage)->undo(context);
  install::Journal::erase(root);
  if (!context.undo_failures.empty()) {
    throw Error(ExitCode::operation_failed,
                fmt::format("removed everything else, but could not restore: {}", fmt::join(context.undo_failures, "; ")),
                "install those versions by hand (apt-get install --allow-downgrades NAME=VERSION, dnf downgrade NAME-VERSION)");
  }
}

// What the lasting stages find no longer true of an install.
std::vector<std::string> check_all(const detail::StageContext& context) {
  std::vector<std::string> missing;
  for (const auto& stage : detail::install_stages()) {
    if (!stage->lasting() || !stage->not_needed(context).empty()) continue;
    auto found = stage->check(context);
    missing.insert(missing.end(), found.begin(), found.end());
  }
  return missing;
}

nlohmann::json headers_json(const std::vector<platform::MissingHeaders>& missing) {
  auto out = nlohmann::json::array();
  for (const auto& kernel : missing) out.push_back({{"kernel", kernel.kernel}, {"package", kernel.package}});
  return out;
}

// A release the person chose (a version, a URL, an offline bundle), not merely the catalog's newest.
bool chosen_explicitly(const InstallOptions& options) {
  return options.fetch.plan.driver_version || options.fetch.plan.driver_url || options.fetch.bundle;
}

// Whether the journal is of this release: its SHA-256; the version for distro packages (no file).
bool same_release(const install::JournalRecord& installed, const catalog::DriverRelease& release) {
  if (installed.sha256 != release.sha256) return false;
  return release.downloads() || installed.release_version == release.version;
}

// What a journal calls a release: its file, or for distro packages the packages it installs.
std::string release_name(const catalog::DriverRelease& release) {
  if (release.downloads()) return release.file_name();
  return fmt::format("distro packages {} ({})", fmt::join(release.packages, " "), release.version);
}

// Without the headers option, kernels without headers are left without the drivers: say which.
void note_kernels_without_headers(const Plan& plan, const InstallOptions& options, InstallResult& result) {
  if (options.install_headers || plan.missing_headers.empty()) return;
  result.kernels_missing_headers = plan.missing_headers;
  for (const auto& missing : plan.missing_headers) {
    result.notes.push_back(fmt::format("kernel {} has no headers, so the drivers are not built for it and a boot into it has no "
                                       "InfiniBand driver: install {}, or let install bring it",
                                       missing.kernel, missing.package.empty() ? std::string("its headers package") : missing.package));
  }
  result.remedies.push_back({Knob::install_headers, {}});
}

}  // namespace

Plan plan_install(const SystemRoot& root, const InstallOptions& options) {
  auto plan_options = options.fetch.plan;
  if (options.fetch.bundle) {
    auto release = release_for_bundle(root, options.fetch);
    plan_options.driver_url = release.url;
    plan_options.sha256 = release.sha256;
    plan_options.driver_version.reset();
  }
  return make_plan(root, plan_options);
}

InstallResult run_install(const SystemRoot& root, const Plan& plan, const InstallOptions& options, fetch::DownloadObserver& observer) {
  auto started = Clock::now();
  auto report = [&](std::string_view stage, StageEvent event, const std::string& message) {
    if (options.on_stage) options.on_stage(stage, event, message);
    if (event == StageEvent::done) throw_if_cancelled("installing");
  };
  InstallResult result;
  result.plan = plan;
  if (plan.exit_code != ExitCode::success || !plan.resolution) {
    throw Error(plan.exit_code == ExitCode::success ? ExitCode::os_not_supported : plan.exit_code, plan.failure, plan.failure_hint,
                plan.failure_remedies);
  }
  std::optional<RunLock> lock;
  if (!options.dry_run) lock.emplace(root.path("/run/ibdriver.lock"), options.lock_wait);
  const auto& release = plan.resolution->release;
  report(to_string(StageName::detect), StageEvent::done, "platform supported");
  report(to_string(StageName::resolve), StageEvent::done, fmt::format("{} {}", release_name(release), release.version));
  result.stage_seconds.push_back({std::string(to_string(StageName::detect)), plan.detect_seconds});
  result.stage_seconds.push_back({std::string(to_string(StageName::resolve)), plan.resolve_seconds});
  require_kernels(plan, options.fetch.plan);
  note_kernels_without_headers(plan, options, result);
  // DKMS signs what it builds; distro packages come with the distribution's own signatures.
  bool secure_boot_on = plan.platform.secure_boot.state == platform::SecureBootState::enabled && plan.builds_modules;
  // Secure Boot pre-flight: a usable MOK key before anything changes.
  result.signing = install::prepare_signing(root, options.signing, secure_boot_on, plan.kernels, options.dry_run);
  if (options.dry_run) return result;

  std::string unavailable;
  // Made here, not through package_manager_for: its error (and exit code) is the install's.
  auto packages = install::make_package_manager(
      plan.platform.os ? platform::package_family(*plan.platform.os) : platform::PackageFamily::unknown, root, options.packages);
  auto existing = install::Journal::load(root);
  if (existing && !same_release(existing->record(), release)) {
    const auto installed = existing->record();
    if (!chosen_explicitly(options)) {
      // A catalog change alone never changes an installed node: fleets must not drift apart.
      detail::StageContext context{root, *existing, plan.kernels, packages.get(), unavailable};
      auto missing = check_all(context);
      if (!missing.empty()) {
        throw Error(ExitCode::operation_failed,
                    fmt::format("{} is installed but no longer complete ({}); the catalog now offers {}", installed.release_file,
                                fmt::join(missing, "; "), release.file_name()),
                    "pin the installed release to repair it, or the offered one to upgrade",
                    {{Knob::driver_version, installed.release_version}, {Knob::driver_version, release.version}});
      }
      result.nothing_to_do = true;
      result.notes.push_back(fmt::format("{} stays installed; the catalog now offers {} {}, installed only when pinned",
                                         installed.release_file, release_name(release), release.version));
      log::info(result.notes.back());
      result.journal = installed;
      result.seconds = seconds_since(started);
      return result;
    }
    // An upgrade: the old release goes first, every stage undone, then the new one installs from nothing.
    log::info(fmt::format("replacing {} with {}", installed.release_file, release.file_name()));
    report("packages", StageEvent::started, fmt::format("removing {}", installed.release_file));
    undo_all(root, *existing, packages.get(), unavailable);
    result.replaced = installed.release_file;
    existing.reset();
  }
  auto journal = existing ? std::move(*existing) : [&] {
    install::JournalRecord fresh;
    fresh.release_version = release.version;
    fresh.release_file = release_name(release);
    fresh.sha256 = release.sha256;
    fresh.kind = std::string(to_string(release.kind));
    fresh.profile = plan.profile;
    if (release.downloads()) fresh.bundle_dir = detail::bundle_dir_for(release.sha256);
    return install::Journal::begin(root, std::move(fresh));
  }();
  if (journal.record().profile != plan.profile) journal.set_profile(plan.profile);

  detail::StageContext context{root, journal, plan.kernels, packages.get(), unavailable};
  context.plan = &plan;
  context.options = &options;
  context.observer = &observer;
  context.signing = result.signing ? &*result.signing : nullptr;
  auto stages = detail::install_stages();
  bool all_done = std::all_of(stages.begin(), stages.end(), [&](const auto& stage) {
    return !stage->lasting() || !stage->not_needed(context).empty() || stage->check(context).empty();
  });
  if (all_done) {
    result.nothing_to_do = true;
    for (const auto& stage : stages) report(to_string(stage->name()), StageEvent::skipped, "already done");
    log::info(release.downloads()
                  ? fmt::format("{} is installed and built for {}: nothing to do", release.file_name(), fmt::join(plan.kernels, ", "))
                  : fmt::format("{} are installed: nothing to do", release_name(release)));
    result.journal = journal.record();
    result.seconds = seconds_since(started);
    return result;
  }
  // The plan's times go into the journal with a run that changes something (a no-op re-run writes nothing).
  journal.mark_stage(std::string(to_string(StageName::detect)), plan.detect_seconds, true);
  journal.mark_stage(std::string(to_string(StageName::resolve)), plan.resolve_seconds, true);
  std::string validation;  // what validate said, for the ready report
  auto dkms = std::find_if(stages.begin(), stages.end(), [](const auto& stage) { return stage->name() == StageName::dkms; });
  try {
    for (const auto& stage : stages) {
      auto name = std::string(to_string(stage->name()));
      if (stage->name() == StageName::validate && !options.validate) {
        report(name, StageEvent::skipped, "skipped on request");
        continue;
      }
      if (stage->name() == StageName::validate && context.reboot_required) {
        // Whatever libibverbs shows now is the old driver: judging it would prove nothing.
        report(name, StageEvent::skipped, "deferred until the reboot: the running driver is not the installed one");
        continue;
      }
      if (auto why = stage->not_needed(context); !why.empty()) {
        log::info(fmt::format("{}: {}", name, why));
        report(name, StageEvent::skipped, why);
        continue;
      }
      if (stage->lasting()) {
        auto missing = stage->check(context);
        if (missing.empty()) {
          report(name, StageEvent::skipped, "already done");
          continue;
        }
        log::debug(fmt::format("{}: {}", name, fmt::join(missing, "; ")));
      }
      report(name, StageEvent::started, fmt::format("{} stage", name));
      auto stage_started = Clock::now();
      auto message = stage->run(context);
      auto seconds = seconds_since(stage_started);
      auto kernels = stage->kernel_seconds(context);
      // A stage with work left for later is done only once that work is (a crash in between: status and
      // a re-run find what is missing).
      if (context.deferred_kernels.empty() || stage->name() != StageName::dkms) journal.mark_stage(name, seconds, !stage->lasting(), kernels);
      result.stages.push_back(name);
      result.stage_seconds.push_back({name, seconds, kernels});
      if (stage->name() == StageName::validate) validation = message;
      report(name, StageEvent::done, message);
    }
  } catch (...) {
    // Load or validate failed after the running kernel's build: the kernels the node may boot next
    // still get theirs before the failure is reported (the build used to come before load).
    if (!context.deferred_kernels.empty() && dkms != stages.end()) {
      log::info(fmt::format("building the driver for {} before reporting the failure", fmt::join(context.deferred_kernels, ", ")));
      try {
        (*dkms)->run_deferred(context);
        journal.mark_stage("dkms", 0, false, context.kernel_seconds);
      } catch (const std::exception& error) {
        log::warning(fmt::format("the build for the other kernels failed too: {}", error.what()));
      }
    }
    throw;
  }
  result.reboot_required = context.reboot_required;
  if (!context.deferred_kernels.empty() && dkms != stages.end()) {
    // The node is ready on its running kernel: what is left is for kernels it may boot later.
    ReadyReport ready{plan.platform.kernels.running, context.reboot_required, validation, context.deferred_kernels};
    log::info(fmt::format("the driver is ready on the running kernel {}{}; building it for {} now", ready.kernel,
                          ready.reboot_required ? " after a reboot" : validation.empty() ? "" : " (validated)",
                          fmt::join(ready.building, ", ")));
    if (options.on_ready) options.on_ready(ready);
    auto& timed = *std::find_if(result.stage_seconds.begin(), result.stage_seconds.end(), [](const auto& time) { return time.stage == "dkms"; });
    report("dkms", StageEvent::started, fmt::format("building for the other kernels: {}", fmt::join(context.deferred_kernels, ", ")));
    auto deferred_started = Clock::now();
    try {
      auto message = (*dkms)->run_deferred(context);
      timed.seconds += seconds_since(deferred_started);
      timed.kernels = context.kernel_seconds;
      journal.mark_stage("dkms", timed.seconds, false, timed.kernels);
      report("dkms", StageEvent::done, message);
    } catch (const Error& failure) {
      // The running kernel works: a kernel the node may boot later failed. The dkms stage stays not
      // done (status, repair and the boot unit see it); the caller decides what the failure means.
      timed.seconds += seconds_since(deferred_started);
      timed.kernels = context.kernel_seconds;
      result.deferred_failure = Error(failure.code(),
                                      fmt::format("the driver is ready on the running kernel {}, but building it for {} failed: {}",
                                                  ready.kernel, fmt::join(ready.building, ", "), failure.what()),
                                      failure.hint(), failure.remedies());
      log::error(result.deferred_failure->what());
      report("dkms", StageEvent::failed, result.deferred_failure->what());
    }
  }
  result.journal = journal.record();
  result.seconds = seconds_since(started);
  return result;
}

StatusReport installation_status(const SystemRoot& root) {
  StatusReport status;
  auto journal = install::Journal::load(root);
  status.kernels = platform::detect_kernels(root).with_headers();
  if (!journal) return status;
  status.journal = journal->record();
  std::string unavailable;
  auto packages = package_manager_for(root, {}, unavailable);
  detail::StageContext context{root, *journal, status.kernels, packages.get(), unavailable};
  status.missing = check_all(context);
  if (!journal->record().distro_packages()) {
    status.kernels_missing_headers = platform::kernels_missing_headers(platform::detect_kernels(root), platform::package_family_of(root));
    if (!status.kernels_missing_headers.empty()) status.remedies.push_back({Knob::install_headers, {}});
  }
  const auto& changes = journal->record().configuration;
  std::error_code error;
  status.reboot_required = std::any_of(changes.begin(), changes.end(), [](const auto& change) { return change.file == "/run/reboot-required"; }) &&
                           fs::exists(root.path("/run/reboot-required"), error);
  return status;
}

void to_json(nlohmann::json& out, const StatusReport& status) {
  out = {{"installed", status.journal.has_value()},
         {"healthy", status.healthy()},
         {"kernels", status.kernels},
         {"missing", status.missing},
         {"kernels_missing_headers", headers_json(status.kernels_missing_headers)},
         {"remedies", status.remedies},
         {"reboot_required", status.reboot_required},
         {"journal", status.journal ? nlohmann::json(*status.journal) : nlohmann::json(nullptr)}};
}

std::optional<install::JournalRecord> run_uninstall(const SystemRoot& root, std::chrono::seconds lock_wait) {
  RunLock lock(root.path("/run/ibdriver.lock"), lock_wait);
  auto journal = install::Journal::load(root);
  if (!journal) {
    log::info("ibdriver has installed nothing here: nothing to remove");
    return std::nullopt;
  }
  std::string unavailable;
  install::PackageManagerSettings settings;
  settings.lock_timeout = lock_wait;
  // A journal without packages (an install stopped before the packages stage) needs no package manager.
  std::unique_ptr<install::PackageManager> packages;
  const auto& record = journal->record();
  if (!record.packages.empty() || !record.headers_packages.empty() || !record.repository_files.empty() || !record.replaced.empty()) {
    packages = package_manager_for(root, settings, unavailable);
  }
  auto removed = journal->record();
  undo_all(root, *journal, packages.get(), unavailable);
  log::info(fmt::format("removed {} and everything ibdriver added for it", removed.release_file));
  return removed;
}

}  // namespace ibdriver::pipeline
