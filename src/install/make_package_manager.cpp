#include <fmt/format.h>

#include "core/error.hpp"
#include "install/apt.hpp"
#include "install/package_manager.hpp"
#include "install/rpm_package_manager.hpp"

namespace ibdriver::install {

std::string_view to_string(PackageFormat format) { return format == PackageFormat::deb ? "deb" : "rpm"; }

PackageFormat package_format(platform::PackageFamily family) {
  return family == platform::PackageFamily::apt ? PackageFormat::deb : PackageFormat::rpm;
}

std::unique_ptr<PackageManager> make_package_manager(platform::PackageFamily family, const SystemRoot& root,
                                                     const PackageManagerSettings& settings) {
  switch (family) {
    case platform::PackageFamily::apt: return std::make_unique<AptPackageManager>(root, settings);
    case platform::PackageFamily::dnf: return std::make_unique<RpmPackageManager>(RpmFrontEnd::dnf, root, settings);
    case platform::PackageFamily::yum: return std::make_unique<RpmPackageManager>(RpmFrontEnd::yum, root, settings);
    case platform::PackageFamily::zypper: return std::make_unique<RpmPackageManager>(RpmFrontEnd::zypper, root, settings);
    case platform::PackageFamily::tdnf: return std::make_unique<RpmPackageManager>(RpmFrontEnd::tdnf, root, settings);
    case platform::PackageFamily::unknown: break;
  }
  throw Error(ExitCode::os_not_supported, "this OS has no package manager ibdriver knows (apt, dnf, yum, zypper, tdnf)",
              "unpack the bundle (`ibdriver fetch` can) and use its own installer");
}

}  // namespace ibdriver::install
