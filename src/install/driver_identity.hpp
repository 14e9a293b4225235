#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/system_root.hpp"

namespace ibdriver::install {

// Which driver a kernel module is, told the way NVIDIA's own tools tell it (knneth/mlnx-ofa_kernel
// ofed_scripts/mod_load_funcs, Mellanox/doca-driver-build driver.go; real-bundles.md section 5):
//  - a module file is OFED's when `modinfo -F depends` names mlx_compat (check_mlnx_ofed_module); the
//    inbox one depends on devlink, ptp, mlxfw... only;
//  - the loaded module is the installed file when /sys/module/<m>/srcversion equals the file's srcversion
//    (are_old_modules_loaded, checkLoadedKmodSrcverVsModinfo);
//  - /sys/module/<m>/version exists for OFED's modules only (MODULE_VERSION(DRIVER_VERSION),
//    "24.10-1.1.4"); the inbox mlx5_core has none.

// What `modinfo` says of a module file.
struct ModuleFile {
  std::string filename;                  // "/lib/modules/<k>/updates/dkms/mlx5_core.ko"
  std::optional<std::string> version;    // "version:" (OFED only)
  std::string srcversion;                // "srcversion:"
  std::vector<std::string> depends;      // "depends:" split at commas
  bool intree = false;                   // "intree: Y"
};

// Parses modinfo's "field:  value" lines (the first value of a repeated field; fields it does not use
// are skipped). A text without filename is an empty ModuleFile.
ModuleFile parse_modinfo(std::string_view text);

// What the running kernel has loaded, from <sysfs>/module/<m>/: nullopt when the module is not loaded.
struct LoadedModule {
  std::optional<std::string> version;  // <sysfs>/module/<m>/version
  std::string srcversion;              // <sysfs>/module/<m>/srcversion
  bool held_by_mlx_compat = false;     // <sysfs>/module/mlx_compat/holders/<m> exists: it links OFED's compat layer
};
std::optional<LoadedModule> loaded_module(const SystemRoot& root, const std::string& module);

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
DriverIdentity identify_driver(const std::string& module, const std::optional<ModuleFile>& installed,
                               const std::optional<LoadedModule>& loaded);

// Runs `modinfo -k KERNEL MODULE` (with `-b ROOT` for a root other than /) and identifies the module
// against what <sysfs>/module holds. A module modinfo cannot find is DriverKind::absent.
DriverIdentity identify_driver(const SystemRoot& root, const std::string& module, const std::string& kernel);

}  // namespace ibdriver::install
