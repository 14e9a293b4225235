// Issue 16 case 4: installed kernels without headers. `--install-headers` brings their headers
// package with the package manager (real dnf --installroot and an rpmbuild'd kernel-devel from
// tests/fixtures/make_distro_repo.py), journaled so uninstall removes exactly it; without the option
// install, status and repair name each such kernel with its package and the remedy.
#include <algorithm>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/process.hpp"
#include "fetch/downloader.hpp"
#include "install/journal.hpp"
#include "install/kernel_headers.hpp"
#include "install/local_repository.hpp"
#include "install/rpm_package_manager.hpp"
#include "pipeline/install_stage.hpp"
#include "platform/kernels.hpp"
#include "support/fake_machine.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;
using Argv = std::vector<std::string>;

namespace {

constexpr const char* older = "5.14.0-427.13.1.el9_4.x86_64";
constexpr const char* newer = "5.14.0-503.11.1.el9_5.x86_64";

bool rpm_installed(const fs::path& root, const std::string& package) {
  return run_process({"rpm", "--root", root.string(), "-q", package}).succeeded();
}

bool has_headers(const SystemRoot& root, const std::string& kernel) {
  auto headed = platform::detect_kernels(root).with_headers();
  return std::find(headed.begin(), headed.end(), kernel) != headed.end();
}

install::Journal begin_journal(const SystemRoot& root) {
  install::JournalRecord record;
  record.release_version = "24.10-1.1.4.0";
  record.release_file = "MLNX_OFED_LINUX-24.10-1.1.4.0-rhel9.4-x86_64.tgz";
  record.sha256 = std::string(64, 'c');
  return install::Journal::begin(root, record);
}

// Ubuntu 22.04 after an unattended kernel upgrade (the input).
void upgraded_ubuntu(const test::FakeMachine& machine) {
  test::populate_profile(machine, "hb120rs_v3");
  machine.os_release_fixture("ubuntu22.04");
  machine.kernel("6.8.0-1021-azure", false);
}

}  // namespace

TEST_CASE("dnf brings a newer kernel's kernel-devel, journaled; uninstall removes exactly it", "[install][headers][dnf]") {
  REQUIRE(install::find_program("dnf").has_value());
  REQUIRE(install::find_program("createrepo_c").has_value());
  test::TempDir dir;
  test::FakeMachine machine(dir.path() / "root");
  machine.os_release_fixture("almalinux9");
  machine.kernel(older, false);
  machine.kernel(newer, false);  // the unattended upgrade: installed, no headers
  machine.running_kernel(older);
  auto made = run_process({"python3", std::string(IBDRIVER_TEST_FIXTURES) + "/make_distro_repo.py", (dir.path() / "repo").string(),
                           "--kernel", older, "--headers", older, "--headers", newer, "--repo-file",
                           (machine.root() / "etc/yum.repos.d/distro.repo").string()});
  INFO(made.err);
  REQUIRE(made.succeeded());
  SystemRoot root(machine.root());
  install::RpmPackageManager dnf(install::RpmFrontEnd::dnf, root, {}, "9");
  // The running kernel's headers were there before: the same package name, another version.
  REQUIRE(dnf.install({fmt::format("kernel-devel-{}", older)}) == Argv{"kernel-devel"});
  REQUIRE(has_headers(root, older));
  auto missing = platform::kernels_missing_headers(platform::detect_kernels(root), platform::PackageFamily::dnf);
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].package == fmt::format("kernel-devel-{}", newer));

  auto journal = begin_journal(root);
  CHECK(install::install_kernel_headers(dnf, root, missing, journal) == Argv{newer});
  CHECK(has_headers(root, newer));
  // Journaled by the version asked for: "kernel-devel" alone would name the older one too.
  CHECK(journal.record().headers_packages == Argv{fmt::format("kernel-devel-{}", newer)});
  CHECK(dnf.not_installed({fmt::format("kernel-devel-{}", newer), "kernel-devel"}).empty());
  CHECK(install::install_kernel_headers(dnf, root, missing, journal).empty());  // a re-run: nothing to do

  auto removed = pipeline::run_uninstall(root, std::chrono::seconds(5));
  REQUIRE(removed.has_value());
  CHECK_FALSE(rpm_installed(machine.root(), fmt::format("kernel-devel-{}", newer)));
  CHECK(rpm_installed(machine.root(), fmt::format("kernel-devel-{}", older)));
  CHECK_FALSE(has_headers(root, newer));
  CHECK(has_headers(root, older));
}

TEST_CASE("a headers package the repositories lack: exit 14 naming the kernel and package, and what to do", "[install][headers][dnf]") {
  REQUIRE(install::find_program("dnf").has_value());
  test::TempDir dir;
  test::FakeMachine machine(dir.path() / "root");
  machine.os_release_fixture("almalinux9");
  auto made = run_process({"python3", std::string(IBDRIVER_TEST_FIXTURES) + "/make_distro_repo.py", (dir.path() / "repo").string(),
                           "--kernel", older, "--repo-file", (machine.root() / "etc/yum.repos.d/distro.repo").string()});
  REQUIRE(made.succeeded());
  SystemRoot root(machine.root());
  install::PackageManagerSettings settings;
  settings.lock_timeout = std::chrono::seconds(10);
  install::RpmPackageManager dnf(install::RpmFrontEnd::dnf, root, settings, "9");
  auto journal = begin_journal(root);
  try {
    install::install_kernel_headers(dnf, root, {{newer, fmt::format("kernel-devel-{}", newer)}}, journal);
    FAIL("no error");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::operation_failed);
    CHECK_THAT(error.what(), Catch::Contains(newer) && Catch::Contains(fmt::format("kernel-devel-{}", newer)));
    CHECK_THAT(error.hint(), Catch::Contains("configured repositories"));
  }
}

TEST_CASE("install without --install-headers names the kernels left without and their package; with it, none",
          "[install][headers][issue16]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  upgraded_ubuntu(machine);
  pipeline::InstallOptions options;
  options.fetch.plan.detect.skip_vm_size_check = true;
  options.dry_run = true;
  fetch::DownloadObserver quiet;
  auto result = pipeline::run_install(SystemRoot(dir.path()), pipeline::plan_install(SystemRoot(dir.path()), options), options, quiet);
  REQUIRE(result.kernels_missing_headers.size() == 1);
  CHECK(result.kernels_missing_headers[0].kernel == "6.8.0-1021-azure");
  CHECK(result.kernels_missing_headers[0].package == "linux-headers-6.8.0-1021-azure");
  REQUIRE(result.remedies.size() == 1);
  CHECK(result.remedies[0].knob == Knob::install_headers);
  CHECK(std::any_of(result.notes.begin(), result.notes.end(), [](const std::string& note) {
    return note.find("kernel 6.8.0-1021-azure has no headers") != std::string::npos &&
           note.find("install linux-headers-6.8.0-1021-azure") != std::string::npos;
  }));
  options.install_headers = true;
  auto with = pipeline::run_install(SystemRoot(dir.path()), pipeline::plan_install(SystemRoot(dir.path()), options), options, quiet);
  CHECK(with.kernels_missing_headers.empty());
  CHECK(with.remedies.empty());

  auto json_run = test::run_ibdriver({"install", "--dry-run", "--json", "--skip-vm-size-check", "--root", dir.path().string()});
  INFO(json_run.err);
  REQUIRE(json_run.exit_status == 0);
  auto json = nlohmann::json::parse(json_run.out);
  CHECK(json["kernels_missing_headers"][0]["package"] == "linux-headers-6.8.0-1021-azure");
  CHECK(json["remedies"][0]["knob"] == "install_headers");
  auto text = test::run_ibdriver({"install", "--dry-run", "--skip-vm-size-check", "--root", dir.path().string()});
  CHECK(text.exit_status == 0);
  CHECK_THAT(text.out, Catch::Contains("install linux-headers-6.8.0-1021-azure") && Catch::Contains("hint: pass --install-headers"));
  auto asked = test::run_ibdriver({"install", "--dry-run", "--json", "--install-headers", "--skip-vm-size-check", "--root", dir.path().string()});
  REQUIRE(asked.exit_status == 0);
  CHECK(nlohmann::json::parse(asked.out)["kernels_missing_headers"].empty());
}

TEST_CASE("status names a kernel installed without headers, its package and the remedy", "[pipeline][headers][issue16]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  upgraded_ubuntu(machine);
  begin_journal(SystemRoot(dir.path()));
  auto status = pipeline::installation_status(SystemRoot(dir.path()));
  REQUIRE(status.kernels_missing_headers.size() == 1);
  CHECK(status.kernels_missing_headers[0].package == "linux-headers-6.8.0-1021-azure");
  REQUIRE(status.remedies.size() == 1);
  CHECK(status.remedies[0].knob == Knob::install_headers);
  nlohmann::json json = status;
  CHECK(json["kernels_missing_headers"][0]["kernel"] == "6.8.0-1021-azure");
  CHECK(json["remedies"][0]["knob"] == "install_headers");
  auto text = test::run_ibdriver({"status", "--root", dir.path().string()});
  CHECK_THAT(text.out, Catch::Contains("kernel 6.8.0-1021-azure is installed without headers") &&
                           Catch::Contains("install linux-headers-6.8.0-1021-azure") && Catch::Contains("--install-headers"));
}
