#include "install/module_sources.hpp"

#include <algorithm>
#include <set>

#include "core/files.hpp"

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
  return build_order(with_core_module_names(std::move(modules)));
}

}  // namespace ibdriver::install
