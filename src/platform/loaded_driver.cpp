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

std::optional<ModuleFile> run_modinfo(const std::vector<std::string>& argv) {
  auto result = run_process(argv);
  if (!result.succeeded()) return std::nullopt;
  auto file = parse_modinfo(result.out);
  if (file.filename.empty()) return std::nullopt;
  return file;
}

}  // namespace

LoadedModule loaded_module(const SystemRoot& root, const std::string& name) {
  LoadedModule module;
  module.name = name;
  std::string sysfs_name = name;
  std::replace(sysfs_name.begin(), sysfs_name.end(), '-', '_');
  // The running kernel's modules, under the root's own /sys: --sysfs-root stands in for the hardware
  // (PCI, VMBus, DMI), not for what the kernel has loaded (ci/vm runs with a simulated platform).
  auto folder = root.path("/sys/module/" + sysfs_name);
  module.loaded = sysfs_value(folder / "initstate") == "live";
  if (!module.loaded) return module;
  module.srcversion = sysfs_value(folder / "srcversion");
  module.version = sysfs_value(folder / "version");
  std::error_code error;
  module.held_by_mlx_compat = fs::exists(root.path("/sys/module/mlx_compat/holders/" + sysfs_name), error);
  return module;
}

bool ModuleFile::ofed() const { return std::find(depends.begin(), depends.end(), "mlx_compat") != depends.end(); }

ModuleFile parse_modinfo(std::string_view text) {
  ModuleFile file;
  bool have_depends = false;
  for (auto line : text::split(text, '\n')) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto field = text::trim(line.substr(0, colon));
    auto value = std::string(text::trim(line.substr(colon + 1)));
    if (field == "filename" && file.filename.empty()) file.filename = value;
    if (field == "version" && !file.version) file.version = value;
    if (field == "srcversion" && file.srcversion.empty()) file.srcversion = value;
    if (field == "intree") file.intree = value == "Y";
    if (field == "depends" && !have_depends) {
      have_depends = true;
      for (auto name : text::split(value, ',')) {
        if (!text::trim(name).empty()) file.depends.emplace_back(text::trim(name));
      }
    }
  }
  return file;
}

std::optional<ModuleFile> read_module_file(const fs::path& module_file) { return run_modinfo({"modinfo", module_file.string()}); }

std::string_view driver_kind_name(DriverKind kind) {
  switch (kind) {
    case DriverKind::absent:
      return "absent";
    case DriverKind::inbox:
      return "inbox";
    case DriverKind::ofed:
      return "OFED";
  }
  return "absent";
}

DriverIdentity identify_driver(const std::string& module, const std::optional<ModuleFile>& installed, const LoadedModule& loaded) {
  DriverIdentity identity;
  identity.module = module;
  if (installed && !installed->filename.empty()) {
    identity.installed = installed->ofed() ? DriverKind::ofed : DriverKind::inbox;
    identity.installed_version = installed->version;
  }
  if (loaded.loaded) {
    identity.running = loaded.ofed() ? DriverKind::ofed : DriverKind::inbox;
    if (!loaded.version.empty()) identity.running_version = loaded.version;
    identity.running_is_installed = installed && !installed->srcversion.empty() && loaded.srcversion == installed->srcversion;
  }
  return identity;
}

DriverIdentity identify_driver(const SystemRoot& root, const std::string& module, const std::string& kernel) {
  std::vector<std::string> argv{"modinfo", "-k", kernel};
  if (!root.is_host_root()) {
    argv.emplace_back("-b");
    argv.push_back(root.root().string());
  }
  argv.push_back(module);
  return identify_driver(module, run_modinfo(argv), loaded_module(root, module));
}

std::string RdmaDeviceDriver::describe() const {
  if (module.empty()) return fmt::format("{}: a software device of the running kernel", device);
  if (!ofed()) return fmt::format("{}: {} (inbox)", device, module);
  return version.empty() ? fmt::format("{}: {} OFED", device, module) : fmt::format("{}: {} OFED {}", device, module, version);
}

std::vector<RdmaDeviceDriver> rdma_device_drivers(const SystemRoot& root) {
  std::vector<RdmaDeviceDriver> drivers;
  std::error_code error;
  // The root's own /sys, as libibverbs reads it: the devices validation judged, not a simulated platform.
  for (const auto& entry : fs::directory_iterator(root.path("/sys/class/infiniband"), error)) {
    RdmaDeviceDriver driver;
    driver.device = entry.path().filename().string();
    auto module_link = fs::read_symlink(entry.path() / "device/driver/module", error);
    std::error_code parent_error;
    if (error && fs::exists(entry.path() / "parent", parent_error)) {
      // Soft-RoCE devices have no parent device, only rxe's own `parent` attribute naming the netdev
      // (drivers/infiniband/sw/rxe/rxe_verbs.c, DEVICE_ATTR_RO(parent)).
      module_link = "rdma_rxe";
      error.clear();
    }
    if (!error) {
      driver.module = module_link.filename().string();
      auto loaded = loaded_module(root, driver.module);
      driver.version = loaded.version;
      driver.is_ofed = loaded.ofed();
    }
    error.clear();
    drivers.push_back(driver);
  }
  std::sort(drivers.begin(), drivers.end(), [](const auto& a, const auto& b) { return a.device < b.device; });
  return drivers;
}

}  // namespace ibdriver::platform
