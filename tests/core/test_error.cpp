#include <cerrno>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/system_root.hpp"
#include "core/text.hpp"
#include "support/temp_dir.hpp"

using namespace ibdriver;

TEST_CASE("an error chain keeps the innermost exit code and prints outermost first", "[error]") {
  std::exception_ptr caught;
  try {
    try {
      throw Error(ExitCode::os_not_supported, "no row for ubuntu 16.04", "pin a driver");
    } catch (...) {
      rethrow_with_context("choosing the driver");
    }
  } catch (...) {
    caught = std::current_exception();
  }
  auto report = report_error(caught);
  CHECK(report.code == ExitCode::os_not_supported);
  REQUIRE(report.chain.size() == 2);
  CHECK(report.chain[0].message == "choosing the driver");
  CHECK(report.chain[1].hint == "pin a driver");
  CHECK(report.summary() == "choosing the driver: no row for ubuntu 16.04");
}

TEST_CASE("a foreign exception maps to operation failed", "[error]") {
  auto report = report_error(std::make_exception_ptr(std::runtime_error("boom")));
  CHECK(report.code == ExitCode::operation_failed);
  CHECK(report.summary() == "boom");
}

TEST_CASE("a file error names the file and the system's reason", "[error]") {
  try {
    read_file("/nonexistent/ibdriver/file", 100);
    FAIL("expected an error");
  } catch (const FileError& error) {
    CHECK(error.error_number() == ENOENT);
    CHECK(error.path() == "/nonexistent/ibdriver/file");
    CHECK_THAT(error.what(), Catch::Contains("/nonexistent/ibdriver/file") && Catch::Contains("No such file"));
  }
}

TEST_CASE("reading a file refuses more than the expected size", "[files]") {
  test::TempDir dir;
  write_file_atomically(dir.path() / "big", std::string(2000, 'x'));
  CHECK(read_file(dir.path() / "big", 2000).size() == 2000);
  CHECK_THROWS_WITH(read_file(dir.path() / "big", 1999), Catch::Contains("larger than the 1999 bytes"));
  CHECK_FALSE(read_file_if_exists(dir.path() / "missing", 10).has_value());
}

TEST_CASE("every exit code has a documented description", "[error]") {
  for (auto code : {ExitCode::success, ExitCode::usage, ExitCode::no_vmbus, ExitCode::no_infiniband_device,
                    ExitCode::os_not_supported, ExitCode::vm_size_not_supported, ExitCode::operation_failed}) {
    CHECK(describe(code) != "unknown exit code");
  }
  CHECK(to_int(ExitCode::vm_size_not_supported) == 13);
}

TEST_CASE("absolute symlinks resolve inside the system root", "[system-root]") {
  test::TempDir dir;
  SystemRoot root(dir.path());
  std::filesystem::create_directories(dir.path() / "usr/src/headers");
  std::filesystem::create_directories(dir.path() / "lib/modules/6.1");
  std::filesystem::create_symlink("/usr/src/headers", dir.path() / "lib/modules/6.1/build");
  std::filesystem::create_symlink("../../../../etc", dir.path() / "lib/modules/6.1/escape");
  std::filesystem::create_symlink("loop", dir.path() / "loop");
  CHECK(root.resolve("/lib/modules/6.1/build") == dir.path() / "usr/src/headers");
  // ".." cannot climb out of the root, as in a chroot: this lands on <root>/etc, not the host's.
  std::filesystem::create_directories(dir.path() / "etc");
  CHECK(root.resolve("/lib/modules/6.1/escape") == dir.path() / "etc");
  CHECK(root.resolve("/loop") == std::nullopt);
  CHECK(root.resolve("/missing") == std::nullopt);
  CHECK(root.sysfs_path("bus/pci") == dir.path() / "sys/bus/pci");
  CHECK(SystemRoot(dir.path(), "/elsewhere").sysfs_path("/bus") == "/elsewhere/bus");
}

TEST_CASE("URLs are printed without their query string", "[text]") {
  CHECK(text::redact_url("https://acct.blob.core.windows.net/c/MLNX.tgz?sv=2022&sig=SECRET") ==
        "https://acct.blob.core.windows.net/c/MLNX.tgz?…");
  CHECK(text::redact_url("https://host/file.tgz") == "https://host/file.tgz");
  CHECK(text::printable(std::string("a\0b\xff", 4)) == "a\\x00b\\xff");
  CHECK(text::parse_hex("0x15b3\n") == 0x15b3UL);
  CHECK_FALSE(text::parse_hex("0xZZ").has_value());
  CHECK_FALSE(text::parse_hex("").has_value());
}

TEST_CASE("decimal numbers as sequence-number and PID files hold them", "[core]") {
  CHECK(text::parse_decimal("12\n") == 12);
  CHECK(text::parse_decimal("0") == 0);
  for (const char* bad : {"", "-1", "+1", "1x", "x1", "99999999999999999999"}) {
    INFO(bad);
    CHECK_FALSE(text::parse_decimal(bad).has_value());
  }
}
