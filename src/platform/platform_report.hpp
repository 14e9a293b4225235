#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/exit_code.hpp"
#include "core/system_root.hpp"
#include "platform/hyperv.hpp"
#include "platform/imds.hpp"
#include "platform/kernels.hpp"
#include "platform/os_release.hpp"
#include "platform/pci.hpp"
#include "core/remedy.hpp"
#include "platform/secure_boot.hpp"
#include "platform/vm_size.hpp"

namespace ibdriver::platform {

enum class CheckState { passed, failed, skipped };
std::string_view to_string(CheckState state);

// One of the upstream checks: vmbus (10), device (11), os (12), vm-size (13).
struct Check {
  std::string name;
  CheckState state = CheckState::passed;
  ExitCode failure_code = ExitCode::operation_failed;
  std::string message;
  std::string hint;
  Remedies remedies;  // the knobs that would get past it (a skip, a test IMDS)
  // Failed on something a longer wait may pass: IMDS answering 410/429/5xx (ImdsBusy) within the
  // budget it was given.
  bool transient = false;
};

struct DetectOptions {
  bool skip_vmbus_check = false;
  bool skip_device_check = false;
  bool skip_os_check = false;
  bool skip_vm_size_check = false;  // also: IMDS is not queried at all
  ImdsOptions imds;
};

struct PlatformReport {
  std::optional<OsRelease> os;
  std::string arch;  // the machine architecture, catalog spelling ("x86_64", "aarch64"): detect_machine_arch
  KernelInventory kernels;
  HyperV hyperv;
  PciScan pci;
  SecureBoot secure_boot;
  std::optional<VmIdentity> vm;
  std::optional<VmSizeVerdict> vm_size;
  std::vector<Check> checks;  // in the order they decide the exit code: vmbus, device, os, vm-size

  Check* find_check(std::string_view name);
  // The code of the first failed check, success when none failed.
  ExitCode exit_code() const;
  const Check* first_failure() const;
  // The generations of the InfiniBand devices found (what a driver must support).
  std::vector<ConnectXGeneration> infiniband_generations() const;
};

// Gathers every fact and runs the four checks; never throws for what it finds: a failed check is
// recorded with its exit code and message. The os check here only asks whether the OS could be
// identified; whether a driver exists for it is the catalog's question (pipeline).
PlatformReport detect_platform(const SystemRoot& root, const DetectOptions& options);

void to_json(nlohmann::json& json, const PlatformReport& report);

}  // namespace ibdriver::platform
