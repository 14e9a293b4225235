#include "install/driver_identity.hpp"

#include <algorithm>

#include "core/files.hpp"
#include "core/process.hpp"
#include "core/text.hpp"

namespace ibdriver::install {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_sysfs_bytes = 4096;

std::optional<std::string> sysfs_value(const fs::path& file) {
  auto text = read_file_if_exists(file, max_sysfs_bytes);
  if (!text) return std::nullopt;
  return std::string(text::trim(*text));
}

}  // namespace

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

std::optional<LoadedModule> loaded_module(const SystemRoot& root, const std::string& module) {
  auto dir = root.path("/sys/module/" + module);  // the kernel's own, whatever --sysfs-root simulates
  std::error_code error;
  // Built-in modules have a /sys/module folder too, without initstate: not something a reload changes.
  if (!fs::exists(dir / "initstate", error)) return std::nullopt;
  LoadedModule loaded;
  loaded.version = sysfs_value(dir / "version");
  loaded.srcversion = sysfs_value(dir / "srcversion").value_or("");
  loaded.held_by_mlx_compat = fs::exists(root.path("/sys/module/mlx_compat/holders/" + module), error);
  return loaded;
}

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

DriverIdentity identify_driver(const std::string& module, const std::optional<ModuleFile>& installed,
                               const std::optional<LoadedModule>& loaded) {
  DriverIdentity identity;
  identity.module = module;
  if (installed && !installed->filename.empty()) {
    bool ofed = std::find(installed->depends.begin(), installed->depends.end(), "mlx_compat") != installed->depends.end();
    identity.installed = ofed ? DriverKind::ofed : DriverKind::inbox;
    identity.installed_version = installed->version;
  }
  if (loaded) {
    identity.running = loaded->held_by_mlx_compat || loaded->version ? DriverKind::ofed : DriverKind::inbox;
    identity.running_version = loaded->version;
    identity.running_is_installed = installed && !installed->srcversion.empty() && loaded->srcversion == installed->srcversion;
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
  auto result = run_process(argv);
  std::optional<ModuleFile> installed;
  if (result.succeeded()) installed = parse_modinfo(result.out);
  return identify_driver(module, installed, loaded_module(root, module));
}

}  // namespace ibdriver::install
