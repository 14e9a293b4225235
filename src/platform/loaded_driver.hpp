#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/system_root.hpp"

namespace ibdriver::platform {

// A kernel module as the running kernel shows it under <sysfs>/module/<name>/. How the vendor's own
// tools tell the OFED driver from the inbox one (openibd's mod_load_funcs, NVIDIA's driver container):
// `srcversion` against the installed file's (`modinfo -F srcversion`), and `version`, which only the
// OFED build of mlx5_core and friends carries (MODULE_VERSION, e.g. "24.10-1.1.4";
// ../shared/reference/real-bundles.md section 5).
struct LoadedModule {
  std::string name;
  bool loaded = false;
  std::string srcversion;  // empty when not loaded or not shown
  std::string version;     // empty for an inbox module
};
LoadedModule loaded_module(const SystemRoot& root, const std::string& name);

// The srcversion recorded in a module file (`modinfo -F srcversion FILE`); nullopt when modinfo
// cannot read it.
std::optional<std::string> module_file_srcversion(const std::filesystem::path& module_file);

// Which module drives each RDMA device (<sysfs>/class/infiniband/<dev>/device/driver/module), and
// whether it is an OFED build (it has a version) or the kernel's own.
struct RdmaDeviceDriver {
  std::string device;   // "mlx5_0", "rxe0"
  std::string module;   // "mlx5_core"; empty when the device has no driver link (software devices)
  std::string version;  // the module's version; empty for inbox
  bool ofed() const { return !version.empty(); }
  std::string describe() const;  // "mlx5_0: mlx5_core OFED 24.10-1.1.4" / "rxe0: inbox driver"
};
std::vector<RdmaDeviceDriver> rdma_device_drivers(const SystemRoot& root);

}  // namespace ibdriver::platform
