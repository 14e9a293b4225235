// An MLNX_OFED tarball for an RPM distribution carries kmod-* packages prebuilt for one kernel and no
// DKMS package (real-bundles.md, "RHEL RPMS/"). Issue 15, fault 4: whether they fit a kernel is dnf's
// answer (their Requires: kernel(<symbol>) = <crc>), asked before anything is installed; a bundle that
// fits no installed kernel is refused with both remedies; "built" is never said when nothing was, and a
// kernel left without the driver is named. Real parts: the modules are compiled against Debian's
// kernel headers on this machine (ci/install-deps installs linux-headers-amd64), the RPMs rpmbuild'd
// (tests/fixtures/make_rpm_repo.py --kmod-kernel), the front end real dnf --installroot; the kernel
// package that provides the symbols is the fixture's kernel-core stand-in, installed with rpm.
#include <algorithm>
#include <fstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "core/process.hpp"
#include "core/text.hpp"
#include "fetch/downloader.hpp"
#include "install/local_repository.hpp"
#include "install/prebuilt_modules.hpp"
#include "pipeline/install_stage.hpp"
#include "support/fake_machine.hpp"
#include "support/install_options.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;
using Argv = std::vector<std::string>;

namespace {

constexpr const char* bundle_name = "MLNX_OFED_LINUX-24.10-1.1.4.0-rhel9.4-x86_64.tgz";

// A kernel of this machine whose headers build modules (the kmods are compiled for it).
std::string host_kernel_with_headers() {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/lib/modules", error)) {
    if (fs::exists(entry.path() / "build/Makefile", error)) return entry.path().filename().string();
  }
  return {};
}

std::string output_of(const Argv& argv) {
  auto result = run_process(argv);
  INFO(format_command(argv) << ": " << result.tail(8));
  REQUIRE(result.succeeded());
  return result.out;
}

struct KmodMachine {
  test::TempDir dir;
  test::FakeMachine machine{dir.path() / "root"};
  std::string kernel = host_kernel_with_headers();
  fs::path bundle;
  fs::path kernel_rpm;
  fs::path overlay = dir.path() / "overlay.json";

  KmodMachine() {
    INFO("no kernel headers on this machine: ci/install-deps installs linux-headers-amd64");
    REQUIRE_FALSE(kernel.empty());
    REQUIRE(install::find_program("dnf").has_value());
    REQUIRE(install::find_program("createrepo_c").has_value());
    test::populate_profile(machine, "hb120rs_v3");
    machine.os_release_fixture("almalinux9");
    machine.write("usr/sbin/ibdriver", "#!/bin/sh\n");  // the boot unit's program
    fs::permissions(machine.root() / "usr/sbin/ibdriver", fs::perms(0755));
    auto made = run_process({"python3", std::string(IBDRIVER_TEST_FIXTURES) + "/make_rpm_repo.py", (dir.path() / "bundle").string(),
                             "--mofed-label", "rhel9.4", "--tgz", "--kmod-kernel", kernel, "--kernel-rpm-out", (dir.path() / "kernel").string()});
    INFO(made.err);
    REQUIRE(made.succeeded());
    bundle = fs::path(std::string(text::trim(made.out)));
    REQUIRE(bundle.filename() == bundle_name);
    kernel_rpm = *fs::directory_iterator(dir.path() / "kernel");
    auto sha256 = std::string(text::split(output_of({"sha256sum", bundle.string()}), ' ').front());
    std::ofstream(overlay) << fmt::format(R"({{"schema": 1, "releases": [{{"kind": "mofed-tgz", "version": "24.10-1.1.4.0",
      "os": {{"id": "almalinux", "version": "9.4"}}, "label": "rhel9.4", "url": "https://mirror.example/{}",
      "sha256": "{}", "min_generation": "connectx-4"}}]}})",
                                          bundle_name, sha256);
  }
  SystemRoot root() const { return SystemRoot(machine.root()); }
  pipeline::InstallOptions options() const {
    auto options = test::fake_root_install_options(overlay, dir.path() / "cache");
    options.fetch.bundle = bundle;
    return options;
  }
  // The kernel the kmods were built for, as the distribution installs it: its package provides the symbols.
  void install_kernel_package() const {
    output_of({"rpm", "--root", machine.root().string(), "--initdb"});
    output_of({"rpm", "--root", machine.root().string(), "-i", "--nodeps", kernel_rpm.string()});
  }
  std::string rpm_query(const Argv& names) const {
    Argv argv{"rpm", "--root", machine.root().string(), "-q"};
    argv.insert(argv.end(), names.begin(), names.end());
    return run_process(argv).out;
  }
};

}  // namespace

TEST_CASE("a bundle's kmods and the kernels they are built for are read from its RPMs", "[install][kmod][rpm]") {
  KmodMachine machine;
  test::TempDir dir;
  output_of({"tar", "-xzf", machine.bundle.string(), "-C", dir.path().string()});
  auto prebuilt = install::find_prebuilt_modules(dir.path() / "MLNX_OFED_LINUX-24.10-1.1.4.0-rhel9.4-x86_64/RPMS");
  CHECK(prebuilt.packages == Argv{"kmod-iser", "kmod-mlnx-ofa_kernel"});
  CHECK(prebuilt.kernels == Argv{machine.kernel});
  // A DKMS bundle has none; a damaged package is named.
  auto dkms = run_process({"python3", std::string(IBDRIVER_TEST_FIXTURES) + "/make_rpm_repo.py", (dir.path() / "dkms").string()});
  REQUIRE(dkms.succeeded());
  CHECK(install::find_prebuilt_modules(dir.path() / "dkms").empty());
  std::ofstream(dir.path() / "dkms/broken-1-1.x86_64.rpm") << "not an rpm";
  CHECK_THROWS_WITH(install::find_prebuilt_modules(dir.path() / "dkms"), Catch::Contains("rpm cannot read") && Catch::Contains("broken-1-1.x86_64.rpm"));
}

TEST_CASE("kmods that fit no installed kernel are refused before anything is installed, with both remedies",
          "[pipeline][kmod][dnf]") {
  KmodMachine machine;
  auto options = machine.options();
  auto plan = pipeline::plan_install(machine.root(), options);
  CHECK_FALSE(plan.builds_modules);
  CHECK(std::any_of(plan.notes.begin(), plan.notes.end(), [](const std::string& note) { return note.find("kmod packages prebuilt") != std::string::npos; }));
  fetch::DownloadObserver quiet;
  try {
    pipeline::run_install(machine.root(), plan, options, quiet);
    FAIL("kmods for a kernel that is not installed were accepted");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::operation_failed);
    CHECK_THAT(error.what(), Catch::Contains("kmod-iser, kmod-mlnx-ofa_kernel are prebuilt for kernel " + machine.kernel) &&
                                 Catch::Contains("fit no installed kernel (5.15.0-1040-azure, 5.15.0-1051-azure, 5.15.0-1073-azure)") &&
                                 Catch::Contains("nothing was installed") && Catch::Contains("nothing provides kernel("));
    CHECK_THAT(error.hint(), Catch::Contains("install and boot the kernel they were built for") &&
                                 Catch::Contains("MLNX_OFED_LINUX-24.10-1.1.4.0-rhel9.4-x86_64/mlnx_add_kernel_support.sh -m ") &&
                                 Catch::Contains("-k 5.15.0-1073-azure --make-tgz"));
  }
  CHECK_THAT(machine.rpm_query({"kmod-mlnx-ofa_kernel", "mlnx-ofed-hpc"}),
             Catch::Contains("package kmod-mlnx-ofa_kernel is not installed") && Catch::Contains("package mlnx-ofed-hpc is not installed"));
  CHECK_FALSE(fs::exists(machine.machine.root() / "etc/yum.repos.d/ibdriver.repo"));  // the repository is gone again
  CHECK_FALSE(fs::exists(machine.machine.root() / fmt::format("lib/modules/{}", machine.kernel)));
}

TEST_CASE("kmods that fit an installed kernel install; nothing is called built, and the kernels without the driver are named",
          "[pipeline][kmod][dnf]") {
  KmodMachine machine;
  machine.install_kernel_package();
  auto options = machine.options();
  std::vector<std::pair<std::string, std::string>> done;
  options.on_stage = [&](std::string_view stage, pipeline::StageEvent event, const std::string& message) {
    if (event == pipeline::StageEvent::done) done.emplace_back(stage, message);
  };
  fetch::DownloadObserver quiet;
  auto result = pipeline::run_install(machine.root(), pipeline::plan_install(machine.root(), options), options, quiet);
  auto said = [&](const std::string& stage) {
    auto found = std::find_if(done.begin(), done.end(), [&](const auto& entry) { return entry.first == stage; });
    return found == done.end() ? std::string() : found->second;
  };
  CHECK_THAT(said("dkms"), Catch::StartsWith("nothing built: the bundle's prebuilt modules are installed for " + machine.kernel) &&
                               Catch::Contains("kernel(s) 5.15.0-1040-azure, 5.15.0-1051-azure, 5.15.0-1073-azure have no InfiniBand driver") &&
                               Catch::Contains("mlnx_add_kernel_support.sh"));
  CHECK_THAT(said("dkms"), !Catch::Contains(" built and installed"));
  REQUIRE(result.journal.has_value());
  CHECK(result.journal->dkms_modules.empty());
  CHECK(std::count(result.journal->packages.begin(), result.journal->packages.end(), "kmod-iser") == 1);
  auto core = machine.machine.root() / fmt::format("lib/modules/{}/extra/mlnx-ofa_kernel/ibdriver_core.ko", machine.kernel);
  CHECK(fs::exists(core));
  // The running kernel has no build: the driver runs after a reboot into the kernel the kmods fit.
  CHECK(result.reboot_required);
  CHECK(pipeline::installation_status(machine.root()).healthy());

  REQUIRE(pipeline::run_uninstall(machine.root(), std::chrono::seconds(5)).has_value());
  CHECK_THAT(machine.rpm_query({"kmod-iser", "mlnx-ofed-hpc"}),
             Catch::Contains("package kmod-iser is not installed") && Catch::Contains("package mlnx-ofed-hpc is not installed"));
  CHECK_FALSE(fs::exists(core));
  CHECK_THAT(machine.rpm_query({"kernel-core"}), Catch::Contains("kernel-core-"));  // the distribution's kernel stays
}
