#include "install/module_sources.hpp"

#include <algorithm>
#include <set>
#include <system_error>

#include "core/files.hpp"
#include "install/dkms_order.hpp"

namespace ibdriver::install {

namespace fs = std::filesystem;

namespace {
constexpr const char* deb_core = "mlnx-ofed-kernel";
constexpr const char* rpm_core = "mlnx-ofa_kernel";
}  // namespace

bool same_core_module(const std::string& a, const std::string& b) {
  auto core = [](const std::string& name) { return name == deb_core || name == rpm_core; };
  return a == b || (core(a) && core(b));
}

std::vector<DkmsModule> with_core_module_names(std::vector<DkmsModule> modules) {
  std::set<std::string> names;
  for (const auto& module : modules) names.insert(module.name);
  for (auto& module : modules) {
    for (auto& dependency : module.build_depends) {
      if (names.count(dependency) != 0) continue;
      auto other = std::find_if(names.begin(), names.end(), [&](const std::string& name) { return same_core_module(name, dependency); });
      if (other != names.end()) dependency = *other;
    }
  }
  return modules;
}

std::vector<DkmsModule> ofed_build_order(const SystemRoot& root, std::vector<DkmsModule> modules) {
  modules = with_core_module_names(std::move(modules));
  std::vector<BundleDkmsModule> bundle;
  for (const auto& module : modules) {
    DkmsConf conf;
    conf.name = module.name;
    conf.version = module.version;
    conf.build_depends = module.build_depends;
    conf.file = module.conf.string();
    bundle.push_back({conf, {}, false});
  }
  // Modules DKMS already has on this machine satisfy a BUILD_DEPENDS outside the set.
  std::set<std::string> elsewhere;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(root.path("/var/lib/dkms"), error)) elsewhere.insert(entry.path().filename().string());
  auto order = dkms_build_order(std::move(bundle), elsewhere);
  std::string core;
  for (const auto& module : order.modules) {
    if (is_ofed_core(module.conf.name)) core = module.conf.name;
  }
  std::vector<DkmsModule> ordered;
  for (const auto& module : order.modules) {
    auto original = std::find_if(modules.begin(), modules.end(), [&](const auto& m) { return m.name == module.conf.name; });
    ordered.push_back(*original);
    // A ULP links against the core's Module.symvers whether or not it says so: rebuilt with the core.
    auto& depends = ordered.back().build_depends;
    if (!core.empty() && links_against_core(module) && std::find(depends.begin(), depends.end(), core) == depends.end()) {
      depends.push_back(core);
    }
  }
  return ordered;
}

std::vector<DkmsModule> dkms_modules_of(PackageManager& packages, const SystemRoot& root, const std::vector<std::string>& package_names) {
  std::vector<DkmsModule> modules;
  std::set<std::string> seen;
  for (const auto& package : package_names) {
    for (const auto& file : packages.files_of(package)) {
      if (file.rfind("/usr/src/", 0) != 0 || fs::path(file).filename() != "dkms.conf" || !seen.insert(file).second) continue;
      auto text = read_file_if_exists(root.path(file), 1024 * 1024);
      if (text) modules.push_back(parse_dkms_conf(*text, file));
    }
  }
  return ofed_build_order(root, std::move(modules));
}

}  // namespace ibdriver::install
