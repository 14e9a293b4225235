// A distro-packages release (Azure Linux 3.0's own mlnx-ofa_kernel packages) installed end to end:
// no fetch, the packages from the distribution's configured repository, no DKMS, then status and
// uninstall. The repository is a real rpmbuild'd one (tests/fixtures/make_distro_repo.py) and the
// front end real dnf --installroot: tdnf is not packaged for Debian, and both run the same
// RpmPackageManager with the same arguments (test_rpm_install.cpp checks tdnf's command lines), so the
// row is pinned to the AlmaLinux root through a --catalog overlay.
#include <algorithm>
#include <fstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/process.hpp"
#include "core/text.hpp"
#include "fetch/downloader.hpp"
#include "install/local_repository.hpp"
#include "pipeline/fetch_stage.hpp"
#include "pipeline/install_stage.hpp"
#include "support/fake_machine.hpp"
#include "support/install_options.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;
using Argv = std::vector<std::string>;

namespace {

constexpr const char* running = "5.15.0-1073-azure";  // populate_profile's running kernel

const std::string distro_row = R"({"schema": 1, "releases": [{"kind": "distro-packages", "version": "azl-test",
  "os": {"id": "almalinux", "version": "9.4"}, "label": "azl3", "packages": ["mlnx-ofa_kernel", "mlnx-ofa_kernel-modules"],
  "min_generation": "connectx-4", "source": "test"}]})";

struct DistroMachine {
  test::TempDir dir;
  test::FakeMachine machine{dir.path() / "root"};
  fs::path overlay = dir.path() / "overlay.json";
  DistroMachine() {
    test::populate_profile(machine, "hb120rs_v3");
    machine.os_release_fixture("almalinux9");
    machine.write("usr/sbin/ibdriver", "#!/bin/sh\n");  // the boot unit's program
    fs::permissions(machine.root() / "usr/sbin/ibdriver", fs::perms(0755));
    auto made = run_process({"python3", std::string(IBDRIVER_TEST_FIXTURES) + "/make_distro_repo.py", (dir.path() / "repo").string(),
                             "--kernel", running, "--repo-file", (machine.root() / "etc/yum.repos.d/distro.repo").string()});
    INFO(made.err);
    REQUIRE(made.succeeded());
    std::ofstream(overlay) << distro_row;
  }
  SystemRoot root() const { return SystemRoot(machine.root()); }
  pipeline::InstallOptions options() const {
    auto options = test::fake_root_install_options(overlay, dir.path() / "cache");
    return options;
  }
};

}  // namespace

TEST_CASE("a distro-packages plan names the row kind and packages, and says the dkms stage is skipped", "[pipeline][distro-packages]") {
  DistroMachine machine;
  machine.machine.kernel("5.15.0-1080-azure", false);  // headers are no concern: nothing is built
  auto plan = pipeline::plan_install(machine.root(), machine.options());
  REQUIRE(plan.resolution.has_value());
  CHECK(plan.resolution->release.kind == catalog::BundleKind::distro_packages);
  CHECK(plan.missing_headers.empty());
  CHECK(std::any_of(plan.notes.begin(), plan.notes.end(), [](const std::string& note) {
    return note.find("the dkms stage is skipped") != std::string::npos && note.find("mlnx-ofa_kernel-modules") != std::string::npos;
  }));
  nlohmann::json json = plan;
  CHECK(json["release"]["kind"] == "distro-packages");
  CHECK(json["release"]["packages"] == Argv{"mlnx-ofa_kernel", "mlnx-ofa_kernel-modules"});
  CHECK(json["kernels_missing_headers"].empty());
}

TEST_CASE("a distro-packages release installs from the distro's repository with dnf, without fetch or DKMS, and uninstalls",
          "[pipeline][distro-packages][dnf]") {
  REQUIRE(install::find_program("dnf").has_value());
  REQUIRE(install::find_program("createrepo_c").has_value());
  DistroMachine machine;
  auto options = machine.options();
  std::vector<std::pair<std::string, std::string>> skipped;
  options.on_stage = [&](std::string_view stage, pipeline::StageEvent event, const std::string& message) {
    if (event == pipeline::StageEvent::skipped) skipped.emplace_back(stage, message);
  };
  auto plan = pipeline::plan_install(machine.root(), options);
  fetch::DownloadObserver quiet;
  auto result = pipeline::run_install(machine.root(), plan, options, quiet);
  CHECK(result.stages == Argv{"packages", "configure", "load"});
  // Seconds per stage: detect and resolve (the plan's), then each stage that ran, in order.
  Argv timed;
  for (const auto& time : result.stage_seconds) timed.push_back(time.stage);
  CHECK(timed == Argv{"detect", "resolve", "packages", "configure", "load"});
  CHECK(std::all_of(result.stage_seconds.begin(), result.stage_seconds.end(), [](const auto& time) { return time.seconds >= 0; }));
  auto reason = [&](const std::string& stage) {
    auto found = std::find_if(skipped.begin(), skipped.end(), [&](const auto& entry) { return entry.first == stage; });
    return found == skipped.end() ? std::string() : found->second;
  };
  CHECK_THAT(reason("fetch"), Catch::Contains("nothing to fetch"));
  CHECK_THAT(reason("unpack"), Catch::Contains("nothing to fetch"));
  CHECK_THAT(reason("dkms"), Catch::Contains("prebuilt"));
  CHECK_FALSE(fs::exists(machine.dir.path() / "cache"));  // nothing downloaded
  REQUIRE(result.journal.has_value());
  auto packages = result.journal->packages;
  std::sort(packages.begin(), packages.end());
  CHECK(packages == Argv{"mlnx-ofa_kernel", "mlnx-ofa_kernel-modules"});
  CHECK(result.journal->kind == "distro-packages");
  CHECK(result.journal->dkms_modules.empty());
  CHECK(result.journal->repository_files.empty());  // the distro's own source, not one of ours
  CHECK(result.journal->bundle_dir.empty());
  CHECK(fs::exists(machine.machine.root() / fmt::format("lib/modules/{}/updates/mlnx-ofa_kernel/ibdriver_core.ko", running)));
  // A fake root loads nothing: the modules the packages hold for the running kernel run after a reboot.
  CHECK(result.reboot_required);

  auto status = pipeline::installation_status(machine.root());
  INFO(fmt::format("{}", fmt::join(status.missing, "\n")));
  CHECK(status.healthy());
  CHECK(pipeline::run_install(machine.root(), pipeline::plan_install(machine.root(), options), options, quiet).nothing_to_do);

  auto removed = pipeline::run_uninstall(machine.root(), std::chrono::seconds(5));
  REQUIRE(removed.has_value());
  auto rpm = run_process({"rpm", "--root", machine.machine.root().string(), "-q", "mlnx-ofa_kernel", "mlnx-ofa_kernel-modules"});
  CHECK_THAT(rpm.out, Catch::Contains("package mlnx-ofa_kernel is not installed") &&
                          Catch::Contains("package mlnx-ofa_kernel-modules is not installed"));
  CHECK_FALSE(fs::exists(machine.machine.root() / fmt::format("lib/modules/{}/updates/mlnx-ofa_kernel/ibdriver_core.ko", running)));
  CHECK(fs::exists(machine.machine.root() / "etc/yum.repos.d/distro.repo"));  // the distro's source stays
}

TEST_CASE("fetch of a distro-packages release says there is nothing to fetch, exit 0", "[pipeline][distro-packages][cli]") {
  DistroMachine machine;
  auto fetched = test::run_ibdriver({"fetch", "--json", "--root", machine.machine.root().string(), "--catalog", machine.overlay.string(),
                                     "--skip-vm-size-check", "--cache-dir", (machine.dir.path() / "cache").string()});
  INFO(fetched.err);
  CHECK(fetched.exit_status == 0);
  auto json = nlohmann::json::parse(fetched.out);
  CHECK(json["nothing_to_fetch"] == true);
  CHECK(json["kind"] == "distro-packages");
  CHECK(json["packages"] == Argv{"mlnx-ofa_kernel", "mlnx-ofa_kernel-modules"});
  CHECK_THAT(json["message"].get<std::string>(), Catch::Contains("configured repositories"));
  CHECK_FALSE(fs::exists(machine.dir.path() / "cache"));
  // The library refuses to download one, saying why.
  fetch::DownloadObserver quiet;
  auto release = pipeline::make_plan(machine.root(), machine.options().fetch.plan).resolution->release;
  CHECK_THROWS_WITH(pipeline::run_fetch(machine.root(), release, machine.options().fetch, quiet),
                    Catch::Contains("nothing to download") && Catch::Contains("mlnx-ofa_kernel"));
}
