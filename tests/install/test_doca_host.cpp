// DOCA-host bundles: a package that installs a local repository, then the doca-ofed profile from it
// (tests/fixtures/make_doca_host_bundle.py builds them with dpkg-deb and rpmbuild).
#include <algorithm>
#include <fstream>
#include <memory>

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
  // A package without a source file passes (its scripts may write the source); one without a
  // repository does not.
  auto scripted = make_doca_host(dir.path() / "scripted", {"--source-by-script"});
  CHECK(install::inspect_doca_host_bundle(unpack(scripted, dir.path() / "scripted-bundle"), "/x.deb", release_of(scripted), apt)
            .source_files.empty());
  auto bare = make_doca_host(dir.path() / "bare", {"--no-repository"});
  CHECK_THROWS_WITH(install::inspect_doca_host_bundle(unpack(bare, dir.path() / "bare-bundle"), "/x.deb", release_of(bare), apt),
                    Catch::Contains("is not a DOCA-host repository package: it carries no local apt (Packages) repository"));
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

namespace {

// A DOCA-host .rpm (made with `options`) installed with dnf into an empty root, as the packages stage
// does; returns what each step recorded.
std::vector<Argv> install_doca_rpm(const fs::path& dir, const Argv& options, std::unique_ptr<install::RpmPackageManager>& dnf) {
  auto root_dir = dir / "root";
  SystemRoot root(root_dir);
  fs::create_directories(root_dir / "etc/yum.repos.d");
  // The package's .repo names its repository by the path the host sees (dnf --installroot reads
  // baseurl as a host path); on a real machine the root is / and the prefix is empty.
  Argv argv{"--rpm", "--os", "rhel9", "--baseurl-root", root_dir.string()};
  argv.insert(argv.end(), options.begin(), options.end());
  auto rpm = make_doca_host(dir / "out", argv);
  CHECK(rpm.filename() == "doca-host-3.2.1-044000_25.10_rhel9.x86_64.rpm");
  auto release = release_of(rpm);
  CHECK(release.kind == catalog::BundleKind::doca_host);
  CHECK(release.label == "rhel9");
  const std::string bundle_dir = "/var/lib/ibdriver/bundles/test";
  auto unpacked = unpack(rpm, root.path(bundle_dir));
  install::keep_package_file(rpm, root.path(bundle_dir) / rpm.filename());
  dnf = std::make_unique<install::RpmPackageManager>(install::RpmFrontEnd::dnf, root, install::PackageManagerSettings{}, "9");
  auto bundle = install::inspect_doca_host_bundle(unpacked, bundle_dir + "/" + rpm.filename().string(), release, *dnf);
  CHECK(bundle.repositories == Argv{"/usr/share/doca-host-3.2.1-044000-25.10-rhel9/repo"});
  CHECK(dnf->package_name_of(bundle.package_file) == "doca-host");
  std::vector<Argv> steps;
  try {
    install::add_doca_host_repository(*dnf, root, bundle, [&](const Argv& added) { steps.push_back(added); });
    steps.push_back(dnf->install({"doca-ofed"}));  // the packages stage then installs the profile
  } catch (const Error& error) {
    steps.push_back({std::string("error: ") + error.what()});
  }
  return steps;
}

Argv all_of(const std::vector<Argv>& steps) {
  Argv packages;
  for (const auto& step : steps) {
    for (const auto& package : step) {
      if (package.rfind("error: ", 0) != 0 && std::find(packages.begin(), packages.end(), package) == packages.end()) {
        packages.push_back(package);
      }
    }
  }
  return packages;
}

}  // namespace

TEST_CASE("a DOCA-host .rpm with dnf: the repository package, its source alone, then doca-ofed; all removed again",
          "[install][doca][dnf]") {
  REQUIRE(install::find_program("dnf").has_value());
  for (const auto& variant : std::vector<Argv>{{}, {"--source-by-script"}}) {
    INFO("fixture options: " << (variant.empty() ? "(the source as a file)" : variant[0]));
    test::TempDir dir;
    std::unique_ptr<install::RpmPackageManager> dnf;
    auto steps = install_doca_rpm(dir.path(), variant, dnf);
    REQUIRE(steps.size() == 3);
    CHECK(steps[0] == Argv{"doca-host"});  // recorded before it is installed
    CHECK(steps[1] == Argv{"doca-host"});
    auto profile = steps[2];
    std::sort(profile.begin(), profile.end());
    CHECK(profile == Argv{"doca-ofed", "iser-dkms", "mlnx-ofa_kernel-dkms", "mlnx-tools"});
    auto root_dir = dir.path() / "root";
    CHECK(fs::exists(root_dir / "etc/yum.repos.d/doca.repo"));
    CHECK(fs::exists(root_dir / "usr/src/mlnx-ofa_kernel-25.10/dkms.conf"));
    auto modules = install::dkms_modules_of(*dnf, SystemRoot(root_dir), profile);
    REQUIRE(modules.size() == 2);
    CHECK(modules[0].name == "mlnx-ofa_kernel");

    auto everything = all_of(steps);
    dnf->remove(everything);
    CHECK(dnf->not_installed(everything) == everything);
    CHECK_FALSE(fs::exists(root_dir / "etc/yum.repos.d/doca.repo"));
    CHECK_FALSE(fs::exists(root_dir / "usr/share/doca-host-3.2.1-044000-25.10-rhel9"));
    CHECK_FALSE(fs::exists(root_dir / "usr/src/mlnx-ofa_kernel-3.2.1"));
  }
}

TEST_CASE("a DOCA-host package that installs no source for its repository: exit 14, and it is recorded for uninstall",
          "[install][doca][dnf]") {
  REQUIRE(install::find_program("dnf").has_value());
  test::TempDir dir;
  std::unique_ptr<install::RpmPackageManager> dnf;
  auto steps = install_doca_rpm(dir.path(), {"--no-source"}, dnf);
  REQUIRE(steps.size() == 3);
  CHECK(steps[0] == Argv{"doca-host"});
  CHECK_THAT(steps[2][0], Catch::Contains("installed doca-host, but no package source dnf reads names its repository "
                                          "/usr/share/doca-host-3.2.1-044000-25.10-rhel9/repo"));
  dnf->remove({"doca-host"});
  CHECK(dnf->not_installed({"doca-host"}) == Argv{"doca-host"});
}
