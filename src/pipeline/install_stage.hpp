#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/error.hpp"
#include "install/configure.hpp"
#include "install/dkms.hpp"
#include "install/journal.hpp"
#include "install/module_signing.hpp"
#include "install/package_manager.hpp"
#include "pipeline/fetch_stage.hpp"
#include "pipeline/plan.hpp"
#include "pipeline/stage.hpp"
#include "verbs/validate.hpp"

namespace ibdriver::pipeline {

// The point where the node is ready while the dkms stage still builds for other kernels.
struct ReadyReport {
  std::string kernel;                  // the running kernel, which has the driver
  bool reboot_required = false;        // the installed driver runs after a reboot (load stage)
  std::string validation;              // what validate said ("" when it was skipped or deferred)
  std::vector<std::string> building;   // the other kernels, built next
};

struct InstallOptions {
  FetchOptions fetch;  // how the release was chosen (plan options, an offline bundle) and is fetched (mirrors, cache)
  bool dry_run = false;
  bool validate = true;  // the last stage: libibverbs sees an ACTIVE port
  // The load stage: restart a running driver that is not the installed one (openibd restart, else the
  // modules unloaded and loaded in order) instead of reporting that a reboot is required.
  bool reload = false;
  // Install the headers packages of the installed kernels newer than the running one that have none
  // (Plan::missing_headers), with the package manager, before the dkms stage: every kernel the machine
  // may boot then gets the modules. Without it those kernels are named in InstallResult.
  bool install_headers = false;
  verbs::ValidationOptions validation{verbs::LinkLayer::infiniband, std::chrono::seconds(60), "libibverbs.so.1"};
  std::chrono::seconds lock_wait{600};
  install::PackageManagerSettings packages;
  install::DkmsSettings dkms;
  StageListener on_stage;  // optional
  // Optional: called once the running kernel has the driver and load and validate have judged it, when
  // the dkms stage still has other kernels to build (the extension reports success from here on).
  std::function<void(const ReadyReport&)> on_ready;
  install::SigningSettings signing;  // Secure Boot: the MOK key DKMS signs with
};

// The plan an install carries out: detection and resolution, once per command. An offline bundle
// decides the release (its catalog row or its pinned SHA-256); the platform is still checked.
Plan plan_install(const SystemRoot& root, const InstallOptions& options);

// How long one stage of a run took (seconds, wall clock); the dkms stage also has each kernel's build,
// in the order built (the running kernel first).
struct StageTime {
  std::string stage;
  double seconds = 0;
  std::vector<std::pair<std::string, double>> kernels{};
};

struct InstallResult {
  Plan plan;
  std::optional<install::JournalRecord> journal;   // unset for a dry run
  bool nothing_to_do = false;                      // a re-run on a provisioned machine
  std::vector<std::string> stages;                 // the stages this run carried out
  std::vector<StageTime> stage_seconds;            // detect, resolve, then each stage run, in order
  double seconds = 0;
  std::optional<install::SigningPlan> signing;     // set when the modules are signed
  std::vector<std::string> notes;                  // what a person should know (a newer release not installed)
  std::string replaced;                            // the release an upgrade removed first
  bool reboot_required = false;                    // the installed driver runs after a reboot (validation deferred)
  // Set when the running kernel is ready but the build for another kernel failed (after on_ready): the
  // dkms stage is left not done. The command line exits with its code; the extension stays successful
  // and shows it in the dkms substatus.
  std::optional<Error> deferred_failure;
  // Installed kernels left without the drivers because they have no headers (the headers option was
  // not given), each with the package that brings them; `remedies` then holds Knob::install_headers.
  std::vector<platform::MissingHeaders> kernels_missing_headers;
  Remedies remedies;
};

// Carries out `plan` (which must have a resolution; else Error with the plan's exit code): the stages
// fetch, unpack, packages, dkms, configure, load, validate, each skipped when its check finds it done
// and still true. On a node with another release installed: a release chosen explicitly (version,
// URL, offline bundle) replaces it (every stage of the old one undone first); the catalog's choice
// alone changes nothing (a note says what is offered; Error 14 when the installed one is incomplete). The journal (<root>/var/lib/ibdriver/state.json) records each change before it is
// made; one run at a time (<root>/run/ibdriver.lock). A re-run with everything in place is a no-op
// that needs no network.
InstallResult run_install(const SystemRoot& root, const Plan& plan, const InstallOptions& options,
                          fetch::DownloadObserver& observer);

// What is installed, for which kernels, and whether it is still true (every lasting stage's check).
struct StatusReport {
  std::optional<install::JournalRecord> journal;
  std::vector<std::string> kernels;                        // installed kernels with headers
  std::vector<std::string> missing;                        // what is no longer true, in sentences
  // Installed kernels newer than the running one without headers (DKMS builds nothing for them, so a
  // boot into one has no driver), with their headers package; a note, not a failure: `remedies` then
  // holds Knob::install_headers. Empty for a distro-packages install (nothing is built).
  std::vector<platform::MissingHeaders> kernels_missing_headers;
  Remedies remedies;
  bool reboot_required = false;  // an install asked for a reboot (its /run/reboot-required) and none happened since
  bool healthy() const { return journal && missing.empty(); }
};
StatusReport installation_status(const SystemRoot& root);

// The validate stage on its own (the extension's enable after the reboot it made): libibverbs's
// verdict through `options`, with the driver it judged (version; OFED or inbox). Returns the message;
// throws as verbs::require_passed when validation fails.
std::string validate_running_driver(const SystemRoot& root, const verbs::ValidationOptions& options);
void to_json(nlohmann::json& out, const StatusReport& status);

// Undoes every stage, newest first: removes what install added and restores what it changed.
// Nothing installed: a no-op (nullopt).
std::optional<install::JournalRecord> run_uninstall(const SystemRoot& root, std::chrono::seconds lock_wait);

}  // namespace ibdriver::pipeline
