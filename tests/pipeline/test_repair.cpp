// Boot-time repair planning against DKMS's tree as DKMS lays it out (the real build runs in
// ci/chroot-test): what a kernel lacks, what to build in which order, and when there is nothing to do.
#include <sys/utsname.h>

#include <fstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "pipeline/repair.hpp"
#include "support/fake_machine.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;

namespace {

constexpr const char* kernel = "6.1.0-27-amd64";
constexpr const char* other_kernel = "6.1.0-28-amd64";

std::string arch() {
  utsname machine{};
  ::uname(&machine);
  return machine.machine;
}

// What `dkms install` leaves: the built module in DKMS's tree, the kernel-<release>-<arch> link, the
// installed copy under updates/dkms and its modules.dep line.
void dkms_installed(const test::FakeMachine& machine, const std::string& name, const std::string& module_file, const std::string& release) {
  machine.write(fmt::format("var/lib/dkms/{}/24.10/{}/{}/module/{}", name, release, arch(), module_file), "ELF");
  machine.write(fmt::format("lib/modules/{}/updates/dkms/{}", release, module_file), "ELF");
  std::ofstream(machine.root() / fmt::format("lib/modules/{}/modules.dep", release), std::ios::app)
      << fmt::format("updates/dkms/{}:\n", module_file);
  fs::create_symlink(fmt::format("24.10/{}/{}", release, arch()),
                     machine.root() / fmt::format("var/lib/dkms/{}/kernel-{}-{}", name, release, arch()));
}

struct Installed {
  test::TempDir dir;
  test::FakeMachine machine{dir.path()};
  install::JournalRecord journal;
  Installed() {
    machine.kernel(kernel, true);
    machine.running_kernel(kernel);
    machine.write("usr/src/mlnx-ofed-kernel-24.10/dkms.conf", "PACKAGE_NAME=\"mlnx-ofed-kernel\"\nPACKAGE_VERSION=\"24.10\"\n");
    machine.write("usr/src/iser-24.10/dkms.conf", "PACKAGE_NAME=\"iser\"\nPACKAGE_VERSION=\"24.10\"\nBUILD_DEPENDS[0]=\"mlnx-ofed-kernel\"\n");
    dkms_installed(machine, "mlnx-ofed-kernel", "ibdriver_core.ko", kernel);
    dkms_installed(machine, "iser", "ibdriver_iser.ko", kernel);
    journal.release_file = "MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64.tgz";
    journal.dkms_modules = {{"mlnx-ofed-kernel", "24.10", {kernel}}, {"iser", "24.10", {kernel}}};
    install::Journal::begin(root(), journal);
  }
  SystemRoot root() const { return SystemRoot(dir.path()); }
};

// The error a repair of kernel `release` ends with (a failed test when it does not end with one).
Error refusal_for(const Installed& installed, const std::string& release) {
  pipeline::RepairOptions options;
  options.kernel = release;
  try {
    pipeline::run_repair(installed.root(), options);
  } catch (const Error& error) {
    return error;
  }
  FAIL("no refusal");
  return Error(ExitCode::success, "");
}

std::vector<std::string> names(const pipeline::RepairPlan& plan) {
  std::vector<std::string> result;
  for (const auto& module : plan.to_build) result.push_back(module.name);
  return result;
}

}  // namespace

TEST_CASE("repair finds nothing to do when every module is in place", "[pipeline][repair]") {
  Installed installed;
  auto plan = pipeline::plan_repair(installed.root(), installed.journal, kernel);
  CHECK(plan.to_build.empty());
  CHECK(plan.missing.empty());
  pipeline::RepairOptions options;
  options.kernel = kernel;
  auto result = pipeline::run_repair(installed.root(), options);
  CHECK(result.installed);
  CHECK(result.rebuilt.empty());
  CHECK_THAT(result.message, Catch::Contains("nothing to repair"));
}

TEST_CASE("repair rebuilds a module whose file is gone, and what builds on a rebuilt module", "[pipeline][repair]") {
  Installed installed;
  SECTION("a deleted .ko: DKMS still says installed, the kernel would not find it") {
    fs::remove(installed.dir.path() / fmt::format("lib/modules/{}/updates/dkms/ibdriver_iser.ko", kernel));
    auto plan = pipeline::plan_repair(installed.root(), installed.journal, kernel);
    CHECK(names(plan) == std::vector<std::string>{"iser"});
    REQUIRE(plan.missing.size() == 1);
    CHECK(plan.missing[0] == "iser/24.10: ibdriver_iser.ko missing");
  }
  SECTION("a module DKMS no longer has installed: it and its BUILD_DEPENDS dependents, in order") {
    fs::remove(installed.dir.path() / fmt::format("var/lib/dkms/mlnx-ofed-kernel/kernel-{}-{}", kernel, arch()));
    auto plan = pipeline::plan_repair(installed.root(), installed.journal, kernel);
    CHECK(names(plan) == std::vector<std::string>{"mlnx-ofed-kernel", "iser"});
    REQUIRE(plan.missing.size() == 1);
    CHECK(plan.missing[0] == "mlnx-ofed-kernel/24.10: not installed by DKMS");
  }
  SECTION("a kernel installed later: everything") {
    installed.machine.kernel(other_kernel, true);
    auto plan = pipeline::plan_repair(installed.root(), installed.journal, other_kernel);
    CHECK(names(plan) == std::vector<std::string>{"mlnx-ofed-kernel", "iser"});
    CHECK(plan.missing.size() == 2);
  }
  SECTION("the module's source is gone: exit 14, saying to install again") {
    fs::remove(installed.dir.path() / "usr/src/iser-24.10/dkms.conf");
    CHECK_THROWS_WITH(pipeline::plan_repair(installed.root(), installed.journal, kernel),
                      Catch::Contains("/usr/src/iser-24.10/dkms.conf is missing") && Catch::Contains(kernel));
  }
}

TEST_CASE("repair without headers for the kernel refuses with exit 14 and the package to install", "[pipeline][repair]") {
  Installed installed;
  installed.machine.kernel(other_kernel, false);
  auto error = refusal_for(installed, other_kernel);
  CHECK(error.code() == ExitCode::operation_failed);
  CHECK_THAT(error.what(), Catch::Contains("has no headers"));
  CHECK_THAT(error.hint(), Catch::Contains(fmt::format("linux-headers-{}", other_kernel)));
}

TEST_CASE("repair where ibdriver installed nothing has nothing to do", "[pipeline][repair]") {
  test::TempDir dir;
  auto result = pipeline::run_repair(SystemRoot(dir.path()), {});
  CHECK_FALSE(result.installed);
  CHECK(result.message == "ibdriver has installed nothing here: nothing to repair");
  nlohmann::json json = result;
  CHECK(json["installed"] == false);
  CHECK(json["rebuilt"].empty());
}

TEST_CASE("ibdriver repair: JSON, exit 0 with nothing to do, exit 14 with the reason when it cannot", "[pipeline][repair][cli]") {
  test::TempDir empty;
  auto nothing = test::run_ibdriver({"repair", "--json", "--root", empty.path().string()});
  INFO(nothing.err);
  REQUIRE(nothing.exit_status == 0);
  auto json = nlohmann::json::parse(nothing.out);
  CHECK(json["installed"] == false);
  CHECK(json["message"] == "ibdriver has installed nothing here: nothing to repair");

  Installed installed;
  auto healthy = test::run_ibdriver({"repair", "--root", installed.dir.path().string()});  // the running kernel of the root
  CHECK(healthy.exit_status == 0);
  CHECK_THAT(healthy.out, Catch::Contains(fmt::format("kernel {} has every module", kernel)));
  installed.machine.kernel(other_kernel, false);
  auto refused = test::run_ibdriver({"repair", "--kernel", other_kernel, "--root", installed.dir.path().string()});
  CHECK(refused.exit_status == 14);
  CHECK_THAT(refused.err, Catch::Contains("has no headers") && Catch::Contains(fmt::format("hint: install linux-headers-{}", other_kernel)));
}

TEST_CASE("repair names a newer kernel installed without headers, its package and the remedy", "[pipeline][repair][headers][issue16]") {
  Installed installed;
  installed.machine.os_release_fixture("debian12");
  installed.machine.kernel(other_kernel, false);  // newer than the running one, no headers
  auto result = pipeline::run_repair(installed.root(), {});
  REQUIRE(result.kernels_missing_headers.size() == 1);
  CHECK(result.kernels_missing_headers[0].package == fmt::format("linux-headers-{}", other_kernel));
  REQUIRE(result.remedies.size() == 1);
  CHECK(result.remedies[0].knob == Knob::install_headers);
  nlohmann::json json = result;
  CHECK(json["kernels_missing_headers"][0]["kernel"] == other_kernel);
  CHECK(json["remedies"][0]["knob"] == "install_headers");
  auto error = refusal_for(installed, other_kernel);
  CHECK_THAT(error.hint(), Catch::Contains(fmt::format("install linux-headers-{}", other_kernel)));
  REQUIRE(error.remedies().size() == 1);
  CHECK(error.remedies()[0].knob == Knob::install_headers);
  auto text = test::run_ibdriver({"repair", "--root", installed.dir.path().string()});
  CHECK_THAT(text.out, Catch::Contains(fmt::format("kernel {} is installed without headers", other_kernel)) &&
                           Catch::Contains("--install-headers"));
}

TEST_CASE("a chroot is told by PID 1's root, or where that is out of reach by the mounts it sees", "[repair][chroot]") {
  // /proc/self/mountinfo on a host, then inside a chroot whose folder is not a mount point (this
  // project's CI machine, where /proc/1/root answers EACCES: only the chroot's own /proc is listed).
  CHECK(pipeline::mountinfo_lists_root_mount("27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n"
                                             "45 27 0:40 / /proc rw,relatime - proc proc rw\n"));
  CHECK_FALSE(pipeline::mountinfo_lists_root_mount("45 27 0:40 / /proc rw,relatime - proc proc rw\n"));
  CHECK_FALSE(pipeline::mountinfo_lists_root_mount(""));
  // A chroot whose folder is a bind mount sees a mount at "/" of that folder: taken for a chroot too.
  CHECK_FALSE(pipeline::mountinfo_lists_root_mount("312 27 254:0 /var/tmp/root / rw - ext4 /dev/vda rw\n"));
  // The test runs on the host itself.
  CHECK(pipeline::mountinfo_lists_root_mount(test::file_text("/proc/self/mountinfo")));
  CHECK_FALSE(pipeline::inside_chroot());
}
