// The seconds of the DKMS builds a package's postinst ran, read from DKMS's own make.log files.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <array>
#include <cstdlib>
#include <ctime>
#include <fstream>

#include <catch2/catch.hpp>

#include "core/process.hpp"
#include "core/system_root.hpp"
#include "install/dkms.hpp"
#include "support/temp_dir.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;

namespace {

std::string host_arch() {
  utsname name{};
  ::uname(&name);
  return name.machine;
}

// A make.log as dkms's actual_build() leaves it: its two first lines, make's output, then moved to
// <version>/<kernel>/<arch>/log/ with the file's time at make's end.
void write_make_log(const fs::path& root, const std::string& module, const std::string& version,
                    const std::string& kernel, std::time_t started, std::time_t ended) {
  auto folder = root / "var/lib/dkms" / module / version / kernel / host_arch() / "log";
  fs::create_directories(folder);
  std::array<char, 64> date{};
  std::tm parts{};
  ::gmtime_r(&started, &parts);
  std::strftime(date.data(), date.size(), "%a %b %e %H:%M:%S UTC %Y", &parts);
  std::ofstream(folder / "make.log") << "DKMS make.log for " << module << "-" << version << " for kernel " << kernel
                                     << " (" << host_arch() << ")\n"
                                     << date.data() << "\nmake -j2 KERNELRELEASE=" << kernel << " ...\n"
                                     // make's output: a real core's log is hundreds of KiB
                                     << std::string(64 * 1024, 'x') << "\n";
  std::array<timespec, 2> times{timespec{ended, 0}, timespec{ended, 0}};
  REQUIRE(::utimensat(AT_FDCWD, (folder / "make.log").c_str(), times.data(), 0) == 0);
}

}  // namespace

TEST_CASE("a make.log's start line is read as coreutils' date writes it", "[dkms][timing]") {
  auto now = static_cast<double>(std::time(nullptr));
  for (const char* zone : {"TZ=UTC", "TZ=Europe/Berlin", "TZ=America/New_York"}) {
    CAPTURE(zone);
    ProcessOptions options;
    options.extra_environment = {"LC_ALL=C", zone};
    auto date = run_process({"date"}, options);  // the line dkms writes, from the real command
    REQUIRE(date.succeeded());
    auto line = date.out.substr(0, date.out.find('\n'));
    CAPTURE(line);
    auto start = install::make_log_start(line);
    if (std::string(zone) == "TZ=UTC" || line.find(" UTC ") != std::string::npos) {
      REQUIRE(start);
      CHECK(std::abs(*start - now) < 5);
    } else if (start) {
      // Read only when the zone is this machine's own: then exactly right.
      CHECK(std::abs(*start - now) < 5);
    }
  }
  CHECK(install::make_log_start("Wed Dec  2 03:50:01 UTC 2026") == 1796183401.0);
  {
    // This machine's own zone is read by its names, standard and summer; another zone is not guessed.
    std::string saved = std::getenv("TZ") != nullptr ? std::getenv("TZ") : "";
    bool had = std::getenv("TZ") != nullptr;
    ::setenv("TZ", "America/New_York", 1);
    ::tzset();
    CHECK(install::make_log_start("Wed Dec  2 03:50:01 EST 2026") == 1796183401.0 + 5 * 3600);
    CHECK(install::make_log_start("Wed Jul  1 03:50:01 EDT 2026") == 1782877801.0 + 4 * 3600);
    CHECK_FALSE(install::make_log_start("Wed Dec  2 03:50:01 CET 2026"));
    if (had) {
      ::setenv("TZ", saved.c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }
  CHECK(install::make_log_start("Thu Jan  1 00:00:00 GMT 1970") == 0.0);
  for (const char* bad : {"", "Wed Dec  2 03:50:01 UTC", "Wed Foo  2 03:50:01 UTC 2026", "Wed Dec 32 03:50:01 UTC 2026",
                          "Wed Dec  2 3:50:01 UTC 2026x", "Wed Dec  2 03:50:61 UTC 2026", "Wed Dec  2 03-50-01 UTC 2026",
                          "Wed Dec -2 03:50:01 UTC 2026", "make: *** [Makefile:12: all] Error 2"}) {
    CAPTURE(bad);
    CHECK_FALSE(install::make_log_start(bad));
  }
}

TEST_CASE("the builds a postinst ran are timed per kernel, in the order they finished", "[dkms][timing]") {
  test::TempDir dir;
  const std::time_t stage_start = 1796180000;
  const std::string core = "mlnx-ofed-kernel";
  const std::string core_version = "24.10.OFED.24.10.1.1.4.1";
  // Before this stage: an earlier install's build, not counted.
  write_make_log(dir.path(), core, "23.10.OFED.23.10.3.2.2.1", "6.1.0-26-amd64", stage_start - 900, stage_start - 600);
  // The core for the running kernel (100 s), then iser on it (20 s), then the core for the next kernel (80 s).
  write_make_log(dir.path(), core, core_version, "6.1.0-27-amd64", stage_start + 5, stage_start + 105);
  write_make_log(dir.path(), "iser", core_version, "6.1.0-27-amd64", stage_start + 200, stage_start + 220);
  write_make_log(dir.path(), core, core_version, "6.1.0-28-amd64", stage_start + 106, stage_start + 186);
  // A log whose first lines are not dkms's, and one whose start is after its end (another clock): left out.
  auto odd = dir.path() / "var/lib/dkms/srp" / core_version / "6.1.0-27-amd64" / host_arch() / "log";
  fs::create_directories(odd);
  std::ofstream(odd / "make.log") << "something else\n";
  write_make_log(dir.path(), "knem", "1.1.4.90mlnx3", "6.1.0-28-amd64", stage_start + 500, stage_start + 300);
  // The kernel-<release>-<arch> links dkms keeps beside the versions are not builds.
  fs::create_directory_symlink(fs::path(core_version) / "6.1.0-27-amd64" / host_arch(),
                               dir.path() / "var/lib/dkms" / core / ("kernel-6.1.0-27-amd64-" + host_arch()));

  auto kernels = install::dkms_builds_since(SystemRoot(dir.path()), static_cast<double>(stage_start));
  REQUIRE(kernels.size() == 2);
  CHECK(kernels[0].first == "6.1.0-27-amd64");
  CHECK(kernels[0].second == Approx(120.0));
  CHECK(kernels[1].first == "6.1.0-28-amd64");
  CHECK(kernels[1].second == Approx(80.0));
  CHECK(install::dkms_builds_since(SystemRoot(dir.path()), static_cast<double>(stage_start + 1000)).empty());
  CHECK(install::dkms_builds_since(SystemRoot(dir.path() / "nothing-here"), 0).empty());
}
