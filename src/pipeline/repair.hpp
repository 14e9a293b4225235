#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/system_root.hpp"
#include "install/dkms.hpp"
#include "install/journal.hpp"
#include "core/remedy.hpp"
#include "platform/package_family.hpp"

namespace ibdriver::pipeline {

// What a kernel lacks of the DKMS modules the journal records, and what to build, in BUILD_DEPENDS
// order (a module whose dependency is rebuilt is rebuilt too: it links against its symbols).
struct RepairPlan {
  std::vector<install::DkmsModule> to_build;
  std::vector<std::string> missing;  // "iser/24.10: ibdriver_iser.ko", in sentences for the report
};
// Reads each module's dkms.conf from /usr/src/<name>-<version>/ (Error 14 when the source is gone).
RepairPlan plan_repair(const SystemRoot& root, const install::JournalRecord& journal, const std::string& kernel);

struct RepairOptions {
  std::optional<std::string> kernel;  // default: the running kernel
  bool load = true;                   // false: build only
  // A kernel to repair without headers gets its headers package from the package manager (journaled:
  // uninstall removes it) instead of the refusal.
  bool install_headers = false;
  std::chrono::seconds lock_wait{600};
  install::DkmsSettings dkms;
};

struct RepairResult {
  bool installed = false;             // ibdriver has installed something here
  std::string kernel;
  std::vector<std::string> missing;   // what was missing before the repair
  std::vector<std::string> rebuilt;   // "name/version"
  std::vector<std::string> loaded;    // kernel modules loaded with modprobe
  std::string load_skipped;           // why nothing was loaded, when it was not
  std::string message;                // one line for people
  // Installed kernels newer than the running one without headers, with their headers package (as
  // `status` names them); `remedies` then holds Knob::install_headers.
  std::vector<platform::MissingHeaders> kernels_missing_headers;
  Remedies remedies;
  double seconds = 0;
};

// `ibdriver repair`: one run at a time (the run lock); checks that the kernel has every module the
// journal records (DKMS's tree, modules.dep, the files), builds what is missing with DKMS, journals it,
// and loads what it built with modprobe (a kernel without headers: Error 14 naming its headers package,
// or with install_headers that package is installed first). Loading needs the real system in its running kernel: it is
// skipped for another kernel, a --root, or inside a chroot (where modprobe would load into the
// host's kernel). Nothing installed: nothing to repair. Error (14) when it cannot repair.
RepairResult run_repair(const SystemRoot& root, const RepairOptions& options);
void to_json(nlohmann::json& out, const RepairResult& result);

// Whether this process runs inside a chroot: its "/" is not that of PID 1, or, where PID 1's root
// cannot be read, no mount is listed at "/" in /proc/self/mountinfo; false when unknown.
bool inside_chroot();
// Whether a mountinfo text (proc(5), /proc/self/mountinfo) lists a file system's own root mounted at "/"
// (ROOT and MOUNT-POINT both "/"; a bind-mounted folder at "/" is not).
bool mountinfo_lists_root_mount(std::string_view mountinfo);

// The release of the kernel this process runs on (uname -r).
std::string running_kernel_release();

}  // namespace ibdriver::pipeline
