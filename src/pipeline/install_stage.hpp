#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "install/configure.hpp"
#include "install/dkms.hpp"
#include "install/journal.hpp"
#include "install/module_signing.hpp"
#include "install/package_manager.hpp"
#include "pipeline/fetch_stage.hpp"
#include "pipeline/plan.hpp"
#include "verbs/validate.hpp"

namespace ibdriver::pipeline {

// What a stage reports as it runs (the extension's status file shows one substatus per stage). Stage
// names are DESIGN.md's: detect, resolve, fetch, unpack, packages, dkms, configure, validate.
enum class StageEvent { started, done, skipped };
using StageListener = std::function<void(std::string_view stage, StageEvent event, const std::string& message)>;

struct InstallOptions {
  FetchOptions fetch;  // how the release is chosen and fetched (plan options, mirrors, --bundle, cache)
  bool dry_run = false;
  bool validate = true;  // the last stage: libibverbs sees an ACTIVE port (--no-validate skips it)
  verbs::ValidationOptions validation{verbs::LinkLayer::infiniband, std::chrono::seconds(60), "libibverbs.so.1"};
  std::chrono::seconds lock_wait{600};
  install::PackageManagerSettings packages;
  install::DkmsSettings dkms;
  StageListener on_stage;  // optional
  install::SigningSettings signing;  // Secure Boot: the MOK key DKMS signs with (--mok-key, --mok-cert, --generate-mok-key)
};

struct InstallResult {
  Plan plan;
  install::Journal journal;
  bool nothing_to_do = false;         // a re-run on a provisioned machine
  std::vector<std::string> stages;    // the stages this run carried out
  double seconds = 0;
  std::optional<install::SigningPlan> signing;  // set when the modules are signed (Secure Boot, or a key was given)
};

// detect -> resolve -> fetch+verify -> unpack -> packages -> dkms -> configure, each step journaled
// (<root>/var/lib/ibdriver/state.json) before and after it changes the system, one run at a time
// (<root>/run/ibdriver.lock). A re-run with everything still in place is a no-op that needs no network.
InstallResult run_install(const SystemRoot& root, const InstallOptions& options, fetch::DownloadObserver& observer);

// What is installed, for which kernels, and whether it is still true.
struct StatusReport {
  std::optional<install::Journal> journal;
  std::vector<std::string> kernels;                        // installed kernels with headers
  std::vector<std::string> missing;                        // what is no longer true, in sentences
  bool healthy() const { return journal && missing.empty(); }
};
StatusReport installation_status(const SystemRoot& root);
void to_json(nlohmann::json& out, const StatusReport& status);

// Removes what install added and restores what it changed. Nothing installed: a no-op.
install::Journal run_uninstall(const SystemRoot& root, std::chrono::seconds lock_wait);

}  // namespace ibdriver::pipeline
