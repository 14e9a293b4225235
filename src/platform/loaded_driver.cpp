#include "platform/loaded_driver.hpp"

#include <algorithm>
#include <system_error>

#include <fmt/format.h>

#include "core/files.hpp"
#include "core/process.hpp"
#include "core/text.hpp"

namespace ibdriver::platform {

namespace fs = std::filesystem;

namespace {

std::string sysfs_value(const fs::path& file) {
  try {
    return std::string(text::trim(read_file_if_exists(file, 4096).value_or("")));
  } catch (const std::exception&) {
    return {};  // unreadable counts as absent
  }
}

}  // namespace

LoadedModule loaded_module(const SystemRoot& root, const std::string& name) {
  LoadedModule module;
  module.name = name;
  // sysfs names modules with underscores (mlx5-vfio-pci is mlx5_vfio_pci).
  std::string sysfs_name = name;
  std::replace(sysfs_name.begin(), sysfs_name.end(), '-', '_');
  // The running kernel's modules, under the root's own /sys: --sysfs-root stands in for the hardware
  // (PCI, VMBus, DMI), not for what the kernel has loaded (ci/vm runs with a simulated platform).
  auto folder = root.path("/sys/module/" + sysfs_name);
  std::error_code error;
  // A built-in module has a folder too, but no initstate; a loaded one says "live".
  module.loaded = sysfs_value(folder / "initstate") == "live";
  if (!module.loaded) return module;
  module.srcversion = sysfs_value(folder / "srcversion");
  module.version = sysfs_value(folder / "version");
  return module;
}

std::optional<std::string> module_file_srcversion(const fs::path& module_file) {
  auto result = run_process({"modinfo", "-F", "srcversion", module_file.string()});
  auto value = std::string(text::trim(result.out));
  if (!result.succeeded() || value.empty()) return std::nullopt;
  return value;
}

std::string RdmaDeviceDriver::describe() const {
  if (module.empty()) return fmt::format("{}: a software device of the running kernel", device);
  return ofed() ? fmt::format("{}: {} OFED {}", device, module, version) : fmt::format("{}: {} (inbox)", device, module);
}

std::vector<RdmaDeviceDriver> rdma_device_drivers(const SystemRoot& root) {
  std::vector<RdmaDeviceDriver> drivers;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(root.sysfs_path("class/infiniband"), error)) {
    RdmaDeviceDriver driver;
    driver.device = entry.path().filename().string();
    auto module_link = fs::read_symlink(entry.path() / "device/driver/module", error);
    if (!error) {
      driver.module = module_link.filename().string();
      driver.version = loaded_module(root, driver.module).version;
    }
    error.clear();
    drivers.push_back(driver);
  }
  std::sort(drivers.begin(), drivers.end(), [](const auto& a, const auto& b) { return a.device < b.device; });
  return drivers;
}

}  // namespace ibdriver::platform
