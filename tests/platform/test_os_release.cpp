#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "platform/os_release.hpp"
#include "support/fake_machine.hpp"
#include "support/temp_dir.hpp"

using namespace ibdriver;
using platform::parse_os_release;
using platform::read_os_release;

namespace {
platform::OsRelease read_fixture(const std::string& name) {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  machine.os_release_fixture(name);
  return read_os_release(SystemRoot(dir.path()));
}
}  // namespace

TEST_CASE("real os-release files are identified", "[os-release]") {
  struct Expected {
    const char* fixture;
    const char* id;
    const char* version;
    const char* like;  // first ID_LIKE entry, "" for none
  };
  auto expected = GENERATE(values<Expected>({
      {"ubuntu16.04", "ubuntu", "16.04", "debian"},
      {"ubuntu18.04", "ubuntu", "18.04", "debian"},
      {"ubuntu20.04", "ubuntu", "20.04", "debian"},
      {"ubuntu22.04", "ubuntu", "22.04", "debian"},
      {"ubuntu24.04", "ubuntu", "24.04", "debian"},
      {"debian11", "debian", "11", ""},
      {"debian12", "debian", "12", ""},
      {"debian13", "debian", "13", ""},
      {"rhel7.9", "rhel", "7.9", "fedora"},
      {"rhel8.10", "rhel", "8.10", "fedora"},
      {"rhel9.4", "rhel", "9.4", "fedora"},
      {"almalinux8", "almalinux", "8.10", "rhel"},
      {"almalinux9", "almalinux", "9.4", "rhel"},
      {"rocky9", "rocky", "9.3", "rhel"},
      {"centos7", "centos", "7", "rhel"},
      {"centos8", "centos", "8", "rhel"},
      {"sles15sp5", "sles", "15.5", "suse"},
      {"azurelinux3.0", "azurelinux", "3.0", ""},
  }));
  INFO(expected.fixture);
  auto os = read_fixture(expected.fixture);
  CHECK(os.id == expected.id);
  CHECK(os.version_id == expected.version);
  if (std::string(expected.like).empty()) {
    CHECK(os.id_like.empty());
  } else {
    REQUIRE_FALSE(os.id_like.empty());
    CHECK(os.id_like.front() == expected.like);
  }
  CHECK_FALSE(os.pretty_name.empty());
}

TEST_CASE("os-release quoting, escapes and comments follow os-release(5)", "[os-release]") {
  auto os = parse_os_release(
      "# a comment\n"
      "\n"
      "ID=\"Ubuntu\"\n"
      "ID_LIKE='debian  fedora'\n"
      "VERSION_ID=22.04\n"
      "PRETTY_NAME=\"The \\\"best\\\" \\$OS \\\\ ever\"\n"
      "   NAME=indented\n"
      "VERSION_CODENAME=jammy # trailing comment\n"
      "not an assignment\n"
      "1BAD=key\n"
      "UNTERMINATED=\"oops\n",
      "test");
  CHECK(os.id == "ubuntu");  // lower-cased: IDs are lower case by definition
  CHECK(os.id_like == std::vector<std::string>{"debian", "fedora"});
  CHECK(os.version_id == "22.04");
  CHECK(os.pretty_name == "The \"best\" $OS \\ ever");
  CHECK(os.fields.at("NAME") == "indented");
  CHECK(os.version_codename == "jammy");
  CHECK(os.fields.count("1BAD") == 0);
  CHECK(os.fields.count("UNTERMINATED") == 0);
  CHECK(os.major() == 22);
  CHECK(os.minor() == 4);
}

TEST_CASE("Windows line endings are tolerated", "[os-release]") {
  auto os = parse_os_release("ID=rhel\r\nVERSION_ID=\"8.10\"\r\n", "test");
  CHECK(os.id == "rhel");
  CHECK(os.version_id == "8.10");
}

TEST_CASE("usr/lib/os-release is the fallback", "[os-release]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  machine.write("usr/lib/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
  auto os = read_os_release(SystemRoot(dir.path()));
  CHECK(os.id == "debian");
  CHECK(os.source_file == (dir.path() / "usr/lib/os-release").string());
}

namespace {
void require_exit_12(const std::string& content, const std::string& expected_text) {
  try {
    parse_os_release(content, "/etc/os-release");
    FAIL("expected exit 12");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::os_not_supported);
    CHECK_THAT(error.what(), Catch::Contains(expected_text));
    CHECK_FALSE(error.hint().empty());
  }
}
}  // namespace

TEST_CASE("os-release that cannot identify the OS is exit 12 saying what was read", "[os-release]") {
  SECTION("binary") { require_exit_12(std::string("\x7f" "ELF\x02\x01\x01\x00\x00", 9), "binary data"); }
  SECTION("missing ID") { require_exit_12("NAME=\"Mystery\"\nVERSION_ID=1\n", "keys NAME, VERSION_ID"); }
  SECTION("empty") { require_exit_12("", "no KEY=VALUE lines"); }
  SECTION("only garbage") { require_exit_12("this is not\nan os-release file\n", "no ID= line"); }
  SECTION("a 1 MB line") { require_exit_12("ID=" + std::string(1024 * 1024, 'a') + "\n", "no ID= line"); }
}

TEST_CASE("a missing or oversized os-release is exit 12", "[os-release]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  SECTION("missing") {
    CHECK_THROWS_MATCHES(read_os_release(SystemRoot(dir.path())), Error,
                         Catch::Predicate<Error>([](const Error& e) { return e.code() == ExitCode::os_not_supported; }));
  }
  SECTION("10 MB") {
    machine.os_release("ID=ubuntu\n" + std::string(10 * 1024 * 1024, '#'));
    CHECK_THROWS_MATCHES(read_os_release(SystemRoot(dir.path())), Error,
                         Catch::Predicate<Error>([](const Error& e) {
                           return e.code() == ExitCode::os_not_supported && std::string(e.what()).find("larger") != std::string::npos;
                         }));
  }
}
