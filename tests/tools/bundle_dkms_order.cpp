// bundle-dkms-order PACKAGE_DIR [ROOT]: the DKMS build order of a bundle's packages (.deb or .rpm files
// in PACKAGE_DIR), read from the packages themselves, one "name/version depth package" line per module,
// then one "transaction: ..." line per package-manager transaction; with ROOT, installs ibdriver's kernel
// hook there for that order (ci/dkms-hook-test drives the real dkms of Debian 11, 12, 13 with it).
#include <algorithm>
#include <cstdio>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "install/bundle_dkms.hpp"
#include "install/dkms_order.hpp"
#include "install/kernel_hook.hpp"
#include "support/temp_dir.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: bundle-dkms-order PACKAGE_DIR [ROOT]\n";
    return 1;
  }
  try {
    std::vector<install::PackageFile> packages;
    for (const auto& entry : fs::directory_iterator(argv[1])) {
      auto file = entry.path().filename().string();
      auto extension = entry.path().extension();
      if (extension == ".deb") packages.push_back({entry.path(), file.substr(0, file.find('_'))});
      // name-version-release.arch.rpm: the name is what precedes the last two dashes.
      if (extension == ".rpm") {
        auto name = file.substr(0, file.rfind('-'));
        packages.push_back({entry.path(), name.substr(0, name.rfind('-'))});
      }
    }
    std::sort(packages.begin(), packages.end(), [](const auto& a, const auto& b) { return a.file < b.file; });
    test::TempDir scratch;
    auto order = install::dkms_build_order(install::bundle_dkms_modules(packages, scratch.path()));
    std::vector<std::string> names;
    for (std::size_t i = 0; i < order.modules.size(); ++i) {
      const auto& module = order.modules[i];
      names.push_back(module.conf.name);
      std::cout << fmt::format("{}/{} {} {}\n", module.conf.name, module.conf.version, order.depth[i], module.package);
    }
    for (const auto& transaction : install::install_transactions(order)) {
      std::cout << fmt::format("transaction: {}\n", fmt::join(transaction, " "));
    }
    if (argc == 3) {
      install::install_kernel_hook(SystemRoot(argv[2]), names, [](const install::ConfigChange& change) {
        std::cout << fmt::format("hook: {} {}\n", change.action, change.file);
      });
    }
  } catch (const Error& error) {
    std::cerr << "bundle-dkms-order: " << error.what() << "\n";
    return 14;
  }
  return 0;
}
