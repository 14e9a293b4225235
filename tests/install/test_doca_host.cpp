// DOCA-host bundles: a package that installs a local repository, then the doca-ofed profile from it
// (tests/fixtures/make_doca_host_bundle.py builds them with dpkg-deb and rpmbuild).
#include <algorithm>
#include <fstream>

#include <catch2/catch.hpp>

#include "archive/extract.hpp"
#include "catalog/catalog.hpp"
#include "core/error.hpp"
#include "core/process.hpp"
#include "core/text.hpp"
#include "install/apt.hpp"
#include "install/doca_host.hpp"
#include "install/local_repository.hpp"
#include "install/module_sources.hpp"
#include "install/rpm_package_manager.hpp"
#include "support/temp_dir.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;
using Argv = std::vector<std::string>;

namespace {

fs::path make_doca_host(const fs::path& out, const Argv& extra = {}) {
  Argv argv{"python3", std::string(IBDRIVER_TEST_FIXTURES) + "/make_doca_host_bundle.py", out.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto result = run_process(argv);
  INFO(result.err);
  REQUIRE(result.succeeded());
  return fs::path(std::string(text::trim(result.out)));
}

// As the fetch stage leaves it: the package's files unpacked in the bundle folder (libarchive).
fs::path unpack(const fs::path& package, const fs::path& folder) {
  archive::unpack_file(package, folder, {});
  return folder;
}

catalog::DriverRelease release_of(const fs::path& package) {
  return catalog::pinned_release("https://x/" + package.filename().string(), std::string(64, 'a'));
}

}  // namespace

TEST_CASE("a DOCA-host .deb is a repository package apt can install from", "[install][doca]") {
  test::TempDir dir;
  auto deb = make_doca_host(dir.path() / "out");
  CHECK(deb.filename() == "doca-host_3.2.1-044000-25.10-debian12_amd64.deb");
  auto release = release_of(deb);
  CHECK(release.kind == catalog::BundleKind::doca_host);
  CHECK(release.default_profile() == "doca-ofed");
  auto unpacked = unpack(deb, dir.path() / "bundle");
  install::AptPackageManager apt(SystemRoot("/"), {});
  auto bundle = install::inspect_doca_host_bundle(unpacked, "/var/lib/ibdriver/bundles/x/" + deb.filename().string(), release, apt);
  CHECK(bundle.source_files == Argv{"/etc/apt/sources.list.d/doca.list"});
  CHECK(bundle.repositories == Argv{"/usr/share/doca-host-3.2.1-044000-25.10-debian12/repo"});
  CHECK(apt.package_name_of(deb) == "doca-host");
  CHECK_THROWS_WITH(apt.package_name_of(dir.path() / "missing.deb"), Catch::Contains("not a readable .deb"));
  CHECK(apt.is_source_file("/etc/apt/sources.list.d/doca.sources"));
  CHECK_FALSE(apt.is_source_file("/etc/apt/sources.list.d/sub/doca.list"));
  CHECK_FALSE(apt.is_source_file("/etc/yum.repos.d/doca.repo"));

  // The wrong format for this OS, and a package that installs no source, are refused with what to do.
  test::TempDir rpm_root;
  install::RpmPackageManager dnf(install::RpmFrontEnd::dnf, SystemRoot(rpm_root.path()), {}, "9");
  CHECK_THROWS_WITH(install::inspect_doca_host_bundle(unpacked, "/x.deb", release, dnf),
                    Catch::Contains("is a .deb package; this OS installs .rpm packages with dnf"));
  auto bare = make_doca_host(dir.path() / "bare", {"--no-source"});
  auto bare_unpacked = unpack(bare, dir.path() / "bare-bundle");
  CHECK_THROWS_WITH(install::inspect_doca_host_bundle(bare_unpacked, "/x.deb", release_of(bare), apt),
                    Catch::Contains("is not a DOCA-host repository package") && Catch::Contains("no package source apt reads"));
}

TEST_CASE("keep_package_file copies the verified package beside its files", "[install][doca]") {
  test::TempDir dir;
  std::ofstream(dir.path() / "cached") << "package bytes";
  fs::create_directories(dir.path() / "bundle");
  install::keep_package_file(dir.path() / "cached", dir.path() / "bundle/doca-host.deb");
  std::ifstream in(dir.path() / "bundle/doca-host.deb");
  CHECK(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()) == "package bytes");
  CHECK(std::distance(fs::directory_iterator(dir.path() / "bundle"), fs::directory_iterator()) == 1);  // no temporary left
  CHECK_THROWS_WITH(install::keep_package_file(dir.path() / "missing", dir.path() / "bundle/x.deb"), Catch::Contains("x.deb"));
}

TEST_CASE("a DOCA-host .rpm with dnf: the repository package, its source alone, then doca-ofed; all removed again",
          "[install][doca][dnf]") {
  REQUIRE(install::find_program("dnf").has_value());
  test::TempDir dir;
  auto root_dir = dir.path() / "root";
  SystemRoot root(root_dir);
  // The package's .repo names its repository by the path the host sees (dnf --installroot reads
  // baseurl as a host path); on a real machine the root is / and the prefix is empty.
  auto rpm = make_doca_host(dir.path() / "out", {"--rpm", "--os", "rhel9", "--baseurl-root", root_dir.string()});
  CHECK(rpm.filename() == "doca-host-3.2.1-044000_25.10_rhel9.x86_64.rpm");
  auto release = release_of(rpm);
  CHECK(release.kind == catalog::BundleKind::doca_host);
  CHECK(release.label == "rhel9");
  const std::string bundle_dir = "/var/lib/ibdriver/bundles/test";
  auto unpacked = unpack(rpm, root.path(bundle_dir));
  install::keep_package_file(rpm, root.path(bundle_dir) / rpm.filename());

  install::RpmPackageManager dnf(install::RpmFrontEnd::dnf, root, {}, "9");
  auto bundle = install::inspect_doca_host_bundle(unpacked, bundle_dir + "/" + rpm.filename().string(), release, dnf);
  CHECK(bundle.source_files == Argv{"/etc/yum.repos.d/doca.repo"});
  std::vector<Argv> steps;
  install::install_doca_host(dnf, bundle, "doca-ofed", [&](const Argv& added) { steps.push_back(added); });
  REQUIRE(steps.size() == 3);
  CHECK(steps[0] == Argv{"doca-host"});  // recorded before it is installed
  CHECK(steps[1] == Argv{"doca-host"});
  CHECK(dnf.package_name_of(bundle.package_file) == "doca-host");
  auto profile = steps[2];
  std::sort(profile.begin(), profile.end());
  CHECK(profile == Argv{"doca-ofed", "iser-dkms", "mlnx-ofa_kernel-dkms", "mlnx-tools"});
  CHECK(fs::exists(root_dir / "etc/yum.repos.d/doca.repo"));
  CHECK(fs::exists(root_dir / "usr/src/mlnx-ofa_kernel-3.2.1/dkms.conf"));
  auto modules = install::dkms_modules_of(dnf, root, profile);
  REQUIRE(modules.size() == 2);
  CHECK(modules[0].name == "mlnx-ofa_kernel");

  auto everything = steps[0];
  everything.insert(everything.end(), profile.begin(), profile.end());
  dnf.remove(everything);
  CHECK(dnf.not_installed(everything) == everything);
  CHECK_FALSE(fs::exists(root_dir / "etc/yum.repos.d/doca.repo"));
  CHECK_FALSE(fs::exists(root_dir / "usr/share/doca-host-3.2.1-044000-25.10-rhel9"));
  CHECK_FALSE(fs::exists(root_dir / "usr/src/mlnx-ofa_kernel-3.2.1"));
}
