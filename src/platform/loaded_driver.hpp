#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/system_root.hpp"

namespace ibdriver::platform {

// Which driver a kernel module is, told the way NVIDIA's own tools tell it (knneth/mlnx-ofa_kernel
// ofed_scripts/mod_load_funcs, Mellanox/doca-driver-build driver.go; real-bundles.md section 5):
//  - a module file is OFED's when `modinfo -F depends` names mlx_compat (check_mlnx_ofed_module); the
//    inbox one depends on devlink, ptp, mlxfw... only;
//  - the loaded module is the installed file when /sys/module/<m>/srcversion equals the file's srcversion
//    (are_old_modules_loaded, checkLoadedKmodSrcverVsModinfo);
//  - /sys/module/<m>/version exists for OFED's modules only (MODULE_VERSION(DRIVER_VERSION),
//    "24.10-1.1.4"); the inbox mlx5_core has none.
// The one place ibdriver tells them apart: the load stage, validate and status use it.

// A kernel module as the running kernel shows it under /sys/module/<name>/.
struct LoadedModule {
  std::string name;
  bool loaded = false;              // initstate says "live" (a built-in module has a folder, no initstate)
  std::string srcversion;           // empty when not loaded or not shown
  std::string version;              // empty for an inbox module
  bool held_by_mlx_compat = false;  // /sys/module/mlx_compat/holders/<m> exists: it links OFED's compat layer
  bool ofed() const { return loaded && (held_by_mlx_compat || !version.empty()); }
};
// Reads the root's own /sys/module (the kernel's, whatever --sysfs-root simulates); module names may use
// '-' (sysfs spells them with '_').
LoadedModule loaded_module(const SystemRoot& root, const std::string& name);

// What `modinfo` says of a module file.
struct ModuleFile {
  std::string filename;                // "/lib/modules/<k>/updates/dkms/mlx5_core.ko"
  std::optional<std::string> version;  // "version:" (OFED only)
  std::string srcversion;              // "srcversion:"
  std::vector<std::string> depends;    // "depends:" split at commas
  bool intree = false;                 // "intree: Y"
  bool ofed() const;                   // depends names mlx_compat
};

// Parses modinfo's "field:  value" lines (the first value of a repeated field; fields it does not use
// are skipped). A text without filename is an empty ModuleFile.
ModuleFile parse_modinfo(std::string_view text);

// `modinfo FILE` of a module file given by its host path; nullopt when modinfo cannot read it.
std::optional<ModuleFile> read_module_file(const std::filesystem::path& module_file);

enum class DriverKind { absent, inbox, ofed };
std::string_view driver_kind_name(DriverKind kind);  // "absent", "inbox", "OFED"

// The verdict for one module (mlx5_core, mlx5_ib, ib_core...).
struct DriverIdentity {
  std::string module;
  DriverKind installed = DriverKind::absent;  // the file modinfo finds for the target kernel
  std::optional<std::string> installed_version;
  DriverKind running = DriverKind::absent;    // what is loaded now
  std::optional<std::string> running_version;
  bool running_is_installed = false;          // loaded, and srcversion equals the installed file's
  // The installed OFED module is not the one running: a reload (openibd restart) or a reboot is needed.
  bool reload_needed() const { return installed == DriverKind::ofed && !running_is_installed; }
};

// Combines the two views (pure: the tests give both).
DriverIdentity identify_driver(const std::string& module, const std::optional<ModuleFile>& installed, const LoadedModule& loaded);

// Runs `modinfo -k KERNEL MODULE` (with `-b ROOT` for a root other than /) and identifies the module
// against what /sys/module holds. A module modinfo cannot find is DriverKind::absent.
DriverIdentity identify_driver(const SystemRoot& root, const std::string& module, const std::string& kernel);

// Which module drives each RDMA device (<root>/sys/class/infiniband/<dev>/device/driver/module; for a
// Soft-RoCE device, which has no parent device, rdma_rxe), and whether it is an OFED build (a version).
struct RdmaDeviceDriver {
  std::string device;   // "mlx5_0", "rxe0"
  std::string module;   // "mlx5_core"; empty when the device has no driver link (software devices)
  std::string version;  // the module's version; empty for inbox
  bool is_ofed = false;
  bool ofed() const { return is_ofed; }
  std::string describe() const;  // "mlx5_0: mlx5_core OFED 24.10-1.1.4" / "rxe0: a software device..."
};
std::vector<RdmaDeviceDriver> rdma_device_drivers(const SystemRoot& root);

}  // namespace ibdriver::platform
