// The RPM package managers: their command lines (pure), and dnf --installroot / zypper --root
// installing and removing a real rpmbuild'd RPM set in empty roots (tests/fixtures/make_rpm_repo.py).
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "catalog/catalog.hpp"
#include "core/error.hpp"
#include "core/process.hpp"
#include "core/text.hpp"
#include "install/local_repository.hpp"
#include "install/module_sources.hpp"
#include "install/mofed_bundle.hpp"
#include "install/rpm_commands.hpp"
#include "install/rpm_lock.hpp"
#include "install/rpm_package_manager.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;
using Argv = std::vector<std::string>;

namespace {

const Argv test_set{"iser-dkms", "mlnx-ofa_kernel-dkms", "mlnx-ofed-hpc", "mlnx-tools"};

fs::path make_rpm_repo(const fs::path& out, const Argv& extra = {}) {
  Argv argv{"python3", std::string(IBDRIVER_TEST_FIXTURES) + "/make_rpm_repo.py", out.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto result = run_process(argv);
  INFO(result.err);
  REQUIRE(result.succeeded());
  return fs::path(std::string(text::trim(result.out)));
}

void require_tool(const std::string& tool) {
  INFO(tool << " is not installed: ci/install-deps installs it (Debian packages dnf, zypper, createrepo-c, rpm)");
  REQUIRE(install::find_program(tool).has_value());
}

// The files below `root` that are not the package managers' own state (rpmdb, caches, logs).
std::set<std::string> payload_files(const fs::path& root) {
  std::set<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    auto relative = fs::relative(entry.path(), root).generic_string();
    if (entry.is_regular_file() && relative.rfind("usr/", 0) == 0) files.insert(relative);
  }
  return files;
}

// Where the tests put the bundle's RPMS/ inside the root (where ibdriver unpacks bundles).
const std::string bundle_rpms = "/var/lib/ibdriver/bundles/test/RPMS";

// What one front end does with the test set in an otherwise empty root, start to end.
void install_and_remove(install::RpmFrontEnd tool, const fs::path& root_dir) {
  SystemRoot root(root_dir);
  auto repo = root.path(bundle_rpms);
  install::PackageManagerSettings settings;
  settings.lock_timeout = std::chrono::seconds(30);
  install::RpmPackageManager packages(tool, root, settings, "9");
  auto files = packages.add_repository({"ibdriver", bundle_rpms});
  REQUIRE(files.size() == 1);
  CHECK_THAT(test::file_text(root.path(files[0])), Catch::Contains("[ibdriver]") && Catch::Contains(repo.string()) && Catch::Contains("gpgcheck=0"));
  CHECK(fs::exists(repo / "repodata" / "repomd.xml"));  // made by createrepo_c
  CHECK(packages.not_installed(test_set) == test_set);

  auto added = packages.install({"mlnx-ofed-hpc"});
  std::sort(added.begin(), added.end());
  CHECK(added == test_set);
  CHECK(packages.not_installed(test_set).empty());
  CHECK(fs::exists(root_dir / "usr/src/mlnx-ofa_kernel-24.10/dkms.conf"));
  CHECK(fs::exists(root_dir / "usr/src/iser-24.10/ibdriver_iser.c"));
  CHECK(fs::exists(root_dir / "usr/sbin/ibdriver-test-tool"));
  auto owned = packages.files_of("mlnx-ofa_kernel-dkms");
  CHECK(std::find(owned.begin(), owned.end(), "/usr/src/mlnx-ofa_kernel-24.10/dkms.conf") != owned.end());
  CHECK(packages.files_of("mlnx-ofed-hpc").empty());  // "(contains no files)" is not a file

  // The RPM flavour of the core module's name, found through rpm -ql inside the root, built first.
  auto modules = install::dkms_modules_of(packages, root, {"mlnx-ofed-hpc", "iser-dkms", "mlnx-ofa_kernel-dkms"});
  REQUIRE(modules.size() == 2);
  CHECK(modules[0].name == "mlnx-ofa_kernel");
  CHECK(modules[1].name == "iser");

  CHECK(packages.install({"mlnx-ofed-hpc"}).empty());  // nothing added the second time
  // The tool's own words are quoted.
  auto own_words = tool == install::RpmFrontEnd::zypper ? "No provider of 'ibdriver-no-such-package' found"
                                                       : "No match for argument: ibdriver-no-such-package";
  CHECK_THROWS_WITH(packages.install({"ibdriver-no-such-package"}),
                    Catch::Contains(own_words) && Catch::Contains(std::string(to_string(tool)) + " install"));

  packages.remove(added);
  CHECK(packages.not_installed(test_set) == test_set);
  CHECK(payload_files(root_dir).empty());
  packages.remove_repository(files);
  CHECK_FALSE(fs::exists(root.path(files[0])));
}

}  // namespace

TEST_CASE("dnf, yum, tdnf and zypper command lines", "[install][rpm]") {
  install::RpmCommandContext dnf;
  CHECK(install::refresh_command(dnf, {"ibdriver"}) == Argv{"dnf", "-y", "--disablerepo=*", "--enablerepo=ibdriver", "--refresh", "makecache"});
  CHECK(install::install_command(dnf, {"mlnx-ofed-hpc"}) ==
        Argv{"dnf", "-y", "--setopt=skip_if_unavailable=True", "--setopt=install_weak_deps=False", "install", "mlnx-ofed-hpc"});
  CHECK(install::remove_command(dnf, {"a", "b"}) ==
        Argv{"dnf", "-y", "--disablerepo=*", "--setopt=clean_requirements_on_remove=False", "remove", "a", "b"});
  CHECK(install::clean_command(dnf) == Argv{"dnf", "-y", "--disablerepo=*", "--enablerepo=ibdriver", "clean", "all"});
  CHECK(install::rpm_command(dnf, {"-q", "x"}) == Argv{"rpm", "-q", "x"});

  dnf.installroot = "/tmp/r";
  dnf.releasever = "9";
  dnf.reposdir = "/tmp/r/etc/yum.repos.d";
  CHECK(install::refresh_command(dnf, {"doca", "doca-extra"}) ==
        Argv{"dnf", "-y", "--installroot=/tmp/r", "--releasever=9", "--setopt=reposdir=/tmp/r/etc/yum.repos.d",
             "--disablerepo=*", "--enablerepo=doca,doca-extra", "--refresh", "makecache"});
  CHECK(install::rpm_command(dnf, {"-qa"}) == Argv{"rpm", "--root", "/tmp/r", "-qa"});

  install::RpmCommandContext yum;
  yum.tool = install::RpmFrontEnd::yum;
  CHECK(install::refresh_command(yum, {"ibdriver"}) == Argv{"yum", "-y", "--disablerepo=*", "--enablerepo=ibdriver", "makecache"});
  CHECK(install::install_command(yum, {"p"}) == Argv{"yum", "-y", "--setopt=skip_if_unavailable=1", "install", "p"});
  CHECK(install::remove_command(yum, {"p"}) == Argv{"yum", "-y", "--disablerepo=*", "--setopt=clean_requirements_on_remove=0", "remove", "p"});

  install::RpmCommandContext zypper;
  zypper.tool = install::RpmFrontEnd::zypper;
  zypper.installroot = "/tmp/z";
  CHECK(install::refresh_command(zypper, {"ibdriver"}) == Argv{"zypper", "--non-interactive", "--root", "/tmp/z", "refresh", "--force", "ibdriver"});
  CHECK(install::install_command(zypper, {"p"}) ==
        Argv{"zypper", "--non-interactive", "--root", "/tmp/z", "install", "--no-recommends", "--auto-agree-with-licenses", "p"});
  // A local package file was verified by its SHA-256; zypper cannot know it is unsigned on purpose.
  CHECK(install::install_command(zypper, {"/var/lib/ibdriver/bundles/x/doca-host.rpm"}) ==
        Argv{"zypper", "--non-interactive", "--root", "/tmp/z", "--no-gpg-checks", "install", "--no-recommends",
             "--auto-agree-with-licenses", "/var/lib/ibdriver/bundles/x/doca-host.rpm"});
  CHECK(install::remove_command(zypper, {"p"}) == Argv{"zypper", "--non-interactive", "--root", "/tmp/z", "--no-refresh", "remove", "p"});
  CHECK(install::clean_command(zypper) == Argv{"zypper", "--non-interactive", "--root", "/tmp/z", "clean", "--all", "ibdriver"});
}

TEST_CASE("tdnf's command lines use only what its documentation lists", "[install][rpm][tdnf]") {
  // tdnf is not packaged for Debian. Its options and commands as `tdnf --help` lists them
  // (vmware/tdnf tools/cli/lib/help.c, 3.x), and the Photon OS administration guide's
  // "tdnf Command Options" (--disablerepo=<repoid>, --enablerepo=<repoid>, -y, --refresh).
  const std::set<std::string> documented_options{
      "--assumeno", "-y", "--assumeyes", "-C", "--cacheonly", "-c", "--debugsolver", "--disableexcludes",
      "--disableplugin", "--disablerepo", "--downloaddir", "--downloadonly", "--dryrun", "--enableplugin",
      "--enablerepo", "--exclude", "--installroot", "--noautoremove", "--nogpgcheck", "--noplugins", "-q",
      "--quiet", "--reboot-required", "--refresh", "--releasever", "--rpmverbosity", "--security",
      "--sec-severity", "--setopt", "--skipconflicts", "--skipdigest", "--skipobsoletes", "--skipsignature"};
  const std::set<std::string> documented_commands{"autoremove", "check-local", "check-update", "clean", "distro-sync",
                                                  "downgrade", "erase", "info", "install", "list", "makecache",
                                                  "provides", "remove", "reinstall", "repolist", "repoquery",
                                                  "search", "update", "upgrade"};
  install::RpmCommandContext tdnf;
  tdnf.tool = install::RpmFrontEnd::tdnf;
  auto check = [&](const Argv& argv, const std::string& command) {
    INFO(format_command(argv));
    REQUIRE(argv.front() == "tdnf");
    bool seen_command = false;
    for (std::size_t i = 1; i < argv.size(); ++i) {
      const auto& word = argv[i];
      if (word.front() == '-') {
        CHECK_FALSE(seen_command);  // options before the command, as the help's usage line shows
        CHECK(documented_options.count(word.substr(0, word.find('='))) == 1);
      } else if (!seen_command) {
        seen_command = true;
        CHECK(word == command);
        CHECK(documented_commands.count(word) == 1);
      }
    }
    CHECK(seen_command);
  };
  for (bool in_root : {false, true}) {
    if (in_root) {
      tdnf.installroot = "/tmp/t";
      tdnf.releasever = "3.0";
      tdnf.reposdir = "/tmp/t/etc/yum.repos.d";  // tdnf's own tests set reposdir with --setopt
    }
    check(install::refresh_command(tdnf, {"ibdriver"}), "makecache");
    check(install::install_command(tdnf, {"doca-ofed"}), "install");
    check(install::remove_command(tdnf, {"doca-ofed"}), "remove");
    check(install::clean_command(tdnf), "clean");
  }
  CHECK(install::install_command(tdnf, {"doca-ofed"}) ==
        Argv{"tdnf", "-y", "--installroot=/tmp/t", "--releasever=3.0", "--setopt=reposdir=/tmp/t/etc/yum.repos.d", "install", "doca-ofed"});
  CHECK(install::remove_command(tdnf, {"a"}).back() == "a");
  auto repo = install::repository_file_text(tdnf, "/b/RPMS", "bundle");
  CHECK_THAT(repo, Catch::Contains("baseurl=file:///b/RPMS") && Catch::Contains("gpgcheck=0") && Catch::Contains("priority=1"));
  CHECK_THAT(repo, !Catch::Contains("module_hotfixes"));  // a dnf-only key
}

TEST_CASE(".repo files: what ibdriver writes and the ids a file defines", "[install][rpm]") {
  install::RpmCommandContext dnf;
  auto text = install::repository_file_text(dnf, "/var/lib/ibdriver/bundles/x/RPMS", "the verified driver bundle");
  CHECK_THAT(text, Catch::Contains("[ibdriver]\n") && Catch::Contains("baseurl=file:///var/lib/ibdriver/bundles/x/RPMS\n") &&
                       Catch::Contains("gpgcheck=0\n") && Catch::Contains("priority=1\n") && Catch::Contains("module_hotfixes=1\n"));
  install::RpmCommandContext zypper;
  zypper.tool = install::RpmFrontEnd::zypper;
  CHECK_THAT(install::repository_file_text(zypper, "/b/RPMS", "b"),
             Catch::Contains("baseurl=dir:/b/RPMS\n") && Catch::Contains("type=rpm-md\n") && Catch::Contains("autorefresh=0\n"));
  CHECK(install::repository_ids(text) == Argv{"ibdriver"});
  CHECK(install::repository_ids("[main]\nx=1\n[doca]\nbaseurl=file:///a\n\n  [doca-extra] \n[doca]\n") == Argv{"doca", "doca-extra"});
  CHECK(install::repository_ids("no sections\n").empty());
}

TEST_CASE("the tools' own error lines are quoted; zypper's notes are not failures", "[install][rpm]") {
  ProcessResult dnf;
  dnf.exit_status = 1;
  dnf.out = "Last metadata expiration check: 0:00:01 ago.\nNo match for argument: nope\n";
  dnf.err = "Error: Unable to find a match: nope\n";
  CHECK(install::rpm_tool_errors(dnf) == "Error: Unable to find a match: nope\nNo match for argument: nope");
  ProcessResult quiet;
  quiet.exit_status = 1;
  quiet.err = "one\ntwo\n";
  CHECK_THAT(install::rpm_tool_errors(quiet), Catch::Contains("two"));

  ProcessResult zypper;
  zypper.exit_status = 106;
  CHECK(install::transaction_succeeded(install::RpmFrontEnd::zypper, zypper));
  CHECK_FALSE(install::transaction_succeeded(install::RpmFrontEnd::dnf, zypper));
  zypper.exit_status = 104;  // capability not found
  CHECK_FALSE(install::transaction_succeeded(install::RpmFrontEnd::zypper, zypper));
}

TEST_CASE("dnf --installroot installs the RPM set into an empty root and removes it again", "[install][rpm][dnf]") {
  require_tool("dnf");
  require_tool("createrepo_c");
  test::TempDir dir;
  auto repo = make_rpm_repo(SystemRoot(dir.path() / "root").path(bundle_rpms), {"--no-repodata"});
  CHECK_FALSE(fs::exists(repo / "repodata"));
  install_and_remove(install::RpmFrontEnd::dnf, dir.path() / "root");
}

TEST_CASE("zypper --root installs the RPM set into an empty root and removes it again", "[install][rpm][zypper]") {
  require_tool("zypper");
  require_tool("createrepo_c");
  test::TempDir dir;
  auto repo = make_rpm_repo(SystemRoot(dir.path() / "root").path(bundle_rpms), {"--no-repodata"});
  install_and_remove(install::RpmFrontEnd::zypper, dir.path() / "root");

  // A local package file (how a DOCA-host .rpm is installed), by its system path inside the root.
  fs::create_directories(dir.path() / "root/var/lib/ibdriver");
  fs::copy_file(repo / "mlnx-tools-24.10.1.1.4.0-1.noarch.rpm", dir.path() / "root/var/lib/ibdriver/mlnx-tools.rpm");
  install::RpmPackageManager packages(install::RpmFrontEnd::zypper, SystemRoot(dir.path() / "root"), {}, "15.5");
  CHECK(packages.install_file("/var/lib/ibdriver/mlnx-tools.rpm") == Argv{"mlnx-tools"});
  CHECK(fs::exists(dir.path() / "root/usr/sbin/ibdriver-test-tool"));
  packages.remove({"mlnx-tools"});
  CHECK(packages.not_installed({"mlnx-tools"}) == Argv{"mlnx-tools"});
}

TEST_CASE("an rpm lock held by another process is waited for, then refused naming the holder", "[install][rpm][lock]") {
  require_tool("dnf");
  test::TempDir dir;
  auto root_dir = dir.path() / "root";
  make_rpm_repo(SystemRoot(root_dir).path(bundle_rpms));
  auto dbpath = run_process({"rpm", "--eval", "%{_dbpath}"});
  REQUIRE(dbpath.succeeded());
  auto lock_file = root_dir / fs::path(std::string(text::trim(dbpath.out))).relative_path() / ".rpm.lock";
  fs::create_directories(lock_file.parent_path());
  std::ofstream(lock_file).close();
  SystemRoot root(root_dir);
  install::PackageManagerSettings settings;
  settings.lock_timeout = std::chrono::seconds(1);
  install::RpmPackageManager packages(install::RpmFrontEnd::dnf, root, settings, "9");
  packages.add_repository({"ibdriver", bundle_rpms});
  auto hold = [&](const std::string& seconds) {
    ProcessOptions options;
    return ChildProcess({"python3", "-c",
                         "import fcntl, sys, time\nf = open(sys.argv[1], 'w')\nfcntl.lockf(f, fcntl.LOCK_EX)\n"
                         "time.sleep(float(sys.argv[2]))\n",
                         lock_file.string(), seconds},
                        options);
  };
  install::RpmLocks locks{{"/" + fs::relative(lock_file, root_dir).generic_string()}, {}};
  auto wait_until_held = [&] {
    for (int i = 0; i < 200 && !install::rpm_lock_holder(root, locks); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    REQUIRE(install::rpm_lock_holder(root, locks).has_value());
  };
  {
    auto holder = hold("30");
    wait_until_held();
    CHECK(install::rpm_lock_holder(root, locks)->pid == holder.pid());
    CHECK_THROWS_WITH(packages.install({"mlnx-tools"}),
                      Catch::Contains("still locked after 1 s") && Catch::Contains(fmt::format("PID {}", holder.pid())) &&
                          Catch::Contains(".rpm.lock"));
    CHECK(packages.not_installed({"mlnx-tools"}) == Argv{"mlnx-tools"});
  }
  settings.lock_timeout = std::chrono::seconds(60);
  install::RpmPackageManager patient(install::RpmFrontEnd::dnf, root, settings, "9");
  auto holder = hold("1");
  wait_until_held();
  CHECK(patient.install({"mlnx-tools"}) == Argv{"mlnx-tools"});  // installed once the holder let go
  holder.wait();
}

TEST_CASE("zypper's own lock (zypp.pid of a live process) is waited for, then refused", "[install][rpm][lock]") {
  require_tool("zypper");
  test::TempDir dir;
  auto root_dir = dir.path() / "root";
  make_rpm_repo(SystemRoot(root_dir).path(bundle_rpms));
  ChildProcess holder({"sleep", "30"}, {});
  fs::create_directories(root_dir / "run");
  std::ofstream(root_dir / "run/zypp.pid") << holder.pid() << "\n";
  install::PackageManagerSettings settings;
  settings.lock_timeout = std::chrono::seconds(1);
  install::RpmPackageManager zypper(install::RpmFrontEnd::zypper, SystemRoot(root_dir), settings, "15.5");
  CHECK_THROWS_WITH(zypper.add_repository({"ibdriver", bundle_rpms}),
                    Catch::Contains(fmt::format("sleep, PID {} holds /run/zypp.pid", holder.pid())));
  // A pid file whose process is gone is stale: not a lock.
  std::ofstream(root_dir / "run/zypp.pid") << "999999999\n";
  CHECK(zypper.add_repository({"ibdriver", bundle_rpms}) == Argv{"/etc/zypp/repos.d/ibdriver.repo"});
}

TEST_CASE("an MLNX_OFED bundle for an RPM-based OS: RPMS/ is its repository", "[install][bundle][rpm]") {
  require_tool("rpmbuild");
  test::TempDir dir;
  auto top = make_rpm_repo(dir.path() / "b", {"--mofed-label", "rhel9.4", "--no-repodata"});
  auto release = catalog::pinned_release("https://x/MLNX_OFED_LINUX-24.10-1.1.4.0-rhel9.4-x86_64.tgz", std::string(64, 'a'));
  auto bundle = install::inspect_mofed_bundle(dir.path() / "b", release, install::PackageFormat::rpm);
  CHECK(bundle.repository == top / "RPMS");
  CHECK(bundle.format == install::PackageFormat::rpm);
  // Without createrepo_c (nor createrepo) the error says what to install.
  {
    std::string saved_path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
    ::setenv("PATH", (dir.path() / "no-tools").c_str(), 1);
    try {
      install::ensure_rpm_metadata(top / "RPMS", std::chrono::seconds(60));
      FAIL("no error without createrepo_c");
    } catch (const Error& error) {
      CHECK_THAT(error.what(), Catch::Contains("has no repodata/ and createrepo_c is not installed"));
      CHECK_THAT(error.hint(), Catch::Contains("dnf install createrepo_c") && Catch::Contains("zypper install createrepo_c"));
    }
    ::setenv("PATH", saved_path.c_str(), 1);
  }
  require_tool("createrepo_c");
  install::ensure_rpm_metadata(top / "RPMS", std::chrono::seconds(60));
  CHECK(fs::exists(top / "RPMS/repodata/repomd.xml"));
  CHECK_THROWS_WITH(install::inspect_mofed_bundle(dir.path() / "b", release, install::PackageFormat::deb),
                    Catch::Contains("no DEBS/Packages") && Catch::Contains("it has RPMS/"));
  fs::remove_all(dir.path() / "b");
  auto deb_bundle = run_process({"python3", std::string(IBDRIVER_TEST_FIXTURES) + "/make_mofed_bundle.py", (dir.path() / "b").string(),
                                 "--label", "rhel9.4"});
  REQUIRE(deb_bundle.succeeded());
  CHECK_THROWS_WITH(install::inspect_mofed_bundle(dir.path() / "b", release, install::PackageFormat::rpm),
                    Catch::Contains("no RPMS/ folder") && Catch::Contains("it has DEBS/"));
  // Without repodata/ and without .rpm files there is nothing to index.
  fs::create_directories(dir.path() / "empty");
  CHECK_THROWS_WITH(install::ensure_rpm_metadata(dir.path() / "empty", std::chrono::seconds(60)), Catch::Contains("holds no .rpm packages"));
}

TEST_CASE("the core module's two names: BUILD_DEPENDS on either builds it first", "[install][dkms]") {
  auto core = install::parse_dkms_conf("PACKAGE_NAME=\"mlnx-ofa_kernel\"\nPACKAGE_VERSION=\"24.10\"\n", "/a/dkms.conf");
  auto iser = install::parse_dkms_conf("PACKAGE_NAME=iser\nPACKAGE_VERSION=24.10\nBUILD_DEPENDS[0]=\"mlnx-ofed-kernel\"\n", "/b/dkms.conf");
  auto srp = install::parse_dkms_conf("PACKAGE_NAME=srp\nPACKAGE_VERSION=24.10\nBUILD_DEPENDS=\"iser\"\n", "/c/dkms.conf");
  CHECK(install::same_core_module("mlnx-ofed-kernel", "mlnx-ofa_kernel"));
  CHECK_FALSE(install::same_core_module("iser", "mlnx-ofa_kernel"));
  auto renamed = install::with_core_module_names({srp, iser, core});
  CHECK(renamed[1].build_depends == Argv{"mlnx-ofa_kernel"});
  auto ordered = install::build_order(renamed);
  REQUIRE(ordered.size() == 3);
  CHECK(ordered[0].name == "mlnx-ofa_kernel");
  CHECK(ordered[1].name == "iser");
  CHECK(ordered[2].name == "srp");
  // With both names present nothing is rewritten.
  auto deb_core = install::parse_dkms_conf("PACKAGE_NAME=mlnx-ofed-kernel\nPACKAGE_VERSION=1\n", "/d/dkms.conf");
  CHECK(install::with_core_module_names({iser, deb_core, core})[0].build_depends == Argv{"mlnx-ofed-kernel"});
}
