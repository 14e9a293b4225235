#pragma once
// Folder-private (pipeline/detail/): the stage objects behind install, status, uninstall and repair.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/system_root.hpp"
#include "fetch/downloader.hpp"
#include "install/journal.hpp"
#include "install/module_signing.hpp"
#include "install/package_manager.hpp"
#include "pipeline/install_stage.hpp"
#include "pipeline/stage.hpp"

namespace ibdriver::pipeline::detail {

// What the stages of one command share. `plan`, `options`, `observer` are set only for install (run);
// check and undo need nothing but the journal and the system.
struct StageContext {
  const SystemRoot& root;
  install::Journal& journal;
  std::vector<std::string> kernels;             // the kernels the modules are built for
  install::PackageManager* packages = nullptr;  // null when this OS has no manager ibdriver knows
  std::string packages_unavailable;             // why `packages` is null
  const Plan* plan = nullptr;
  const InstallOptions* options = nullptr;
  fetch::DownloadObserver* observer = nullptr;
  const install::SigningPlan* signing = nullptr;  // set when modules must be signed
  // Set by the load stage: the installed driver is not the running one until a reboot (validation is
  // then deferred, never passed).
  bool reboot_required = false;
  // Set by the dkms stage: the kernels it builds after validate (run_deferred), the running kernel being
  // ready; and how long each kernel's build took, in the order built.
  std::vector<std::string> deferred_kernels{};
  std::vector<std::pair<std::string, double>> kernel_seconds{};
  // Set by undo: what could not be put back; uninstall finishes everything else, then reports these.
  std::vector<std::string> undo_failures{};
};

class Stage {
 public:
  Stage() = default;
  Stage(const Stage&) = delete;
  Stage& operator=(const Stage&) = delete;
  virtual ~Stage() = default;

  virtual StageName name() const = 0;
  // Whether the stage leaves something on the system that `status` can check and `uninstall` undoes
  // (load and validate only act on the running kernel).
  virtual bool lasting() const { return true; }
  // Why the stage has no part in this install (a distro-packages release downloads nothing and builds
  // nothing with DKMS); empty when it has. Install reports it skipped with this reason; status does
  // not check it.
  virtual std::string not_needed(const StageContext& /*context*/) const { return {}; }
  // What of the stage is not (or no longer) true, in sentences; empty: done and still true.
  virtual std::vector<std::string> check(const StageContext& context) const = 0;
  // Does the stage's work (journaling before each change); returns the line its `done` event shows.
  virtual std::string run(StageContext& context) = 0;
  // Removes what the stage added and restores what it changed.
  virtual void undo(StageContext& context) = 0;
  // The part of the stage's work that waits until the node is ready (the dkms stage: the kernels other
  // than the running one, context.deferred_kernels); returns the line its `done` event shows, empty
  // when nothing was left.
  virtual std::string run_deferred(StageContext& /*context*/) { return {}; }
  // Each kernel's build seconds in the stage's runs so far, in the order built (kernel release,
  // seconds): the dkms stage's own builds, the packages stage's postinst builds; empty for the rest.
  virtual std::vector<std::pair<std::string, double>> kernel_seconds(const StageContext& /*context*/) const { return {}; }
};

// fetch, unpack, packages, dkms, configure, load, validate: the stages after the plan, in order.
std::vector<std::unique_ptr<Stage>> install_stages();

// The system path of a release's unpacked bundle.
std::string bundle_dir_for(const std::string& sha256);

}  // namespace ibdriver::pipeline::detail
