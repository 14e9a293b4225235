// `ibdriver unpack` and `ibdriver fetch --unpack-to` as a person runs them.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/process.hpp"
#include "fetch/sha256.hpp"
#include "support/https_server.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;

namespace {
ProcessResult ibdriver_cli(std::vector<std::string> arguments) {
  arguments.insert(arguments.end(), {"--log-file", "/dev/null"});
  return test::run_ibdriver(std::move(arguments));
}

fs::path make_archive(const fs::path& output, const std::string& kind) {
  test::make_archive(kind, output);
  return output;
}
}  // namespace

TEST_CASE("unpack ARCHIVE --to DIR, and --list", "[cli][unpack]") {
  test::TempDir dir;
  auto archive = make_archive(dir.path() / "benign.tar.xz", "benign.tar.xz");
  auto result = ibdriver_cli({"unpack", archive.string(), "--to", (dir.path() / "out").string(), "--json"});
  INFO(result.err);
  REQUIRE(result.exit_status == 0);
  CHECK(nlohmann::json::parse(result.out)["files"] == 4);
  CHECK(fs::is_symlink(dir.path() / "out/MLNX_OFED_LINUX-1.0-debian12-x86_64/docs/install"));
  auto listed = ibdriver_cli({"unpack", archive.string(), "--list"});
  CHECK(listed.exit_status == 0);
  CHECK_THAT(listed.out, Catch::Contains("docs/install -> ../mlnxofedinstall"));
  // A second unpack into the same, now full, folder is refused and changes nothing.
  CHECK(ibdriver_cli({"unpack", archive.string(), "--to", (dir.path() / "out").string()}).exit_status == 14);
  CHECK(ibdriver_cli({"unpack", archive.string()}).exit_status == 1);
  CHECK(ibdriver_cli({"unpack", (dir.path() / "missing.tgz").string(), "--to", "x"}).exit_status == 1);
}

TEST_CASE("unpack refuses a hostile archive with exit 14 naming the entry", "[cli][unpack]") {
  test::TempDir dir;
  auto archive = make_archive(dir.path() / "evil.tgz", "hardlink-escape");
  auto result = ibdriver_cli({"unpack", archive.string(), "--to", (dir.path() / "out").string()});
  CHECK(result.exit_status == 14);
  CHECK_THAT(result.err, Catch::Contains("evil.tgz") && Catch::Contains("\"passwd\""));
  CHECK_FALSE(fs::exists(dir.path() / "out"));
  auto limited = ibdriver_cli({"unpack", make_archive(dir.path() / "many.tgz", "many-entries").string(), "--to",
                               (dir.path() / "out").string(), "--max-entries", "5"});
  CHECK(limited.exit_status == 14);
  CHECK_THAT(limited.err, Catch::Contains("more than 5 entries"));
}

TEST_CASE("fetch --unpack-to streams the bundle into a folder", "[cli][unpack][fetch]") {
  test::HttpsServer server;
  const std::string name = "MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64.tgz";
  make_archive(server.file(name), "bundle.tgz");
  auto sha256 = fetch::sha256_of_file(server.file(name));
  test::TempDir dir;
  auto result = ibdriver_cli({"fetch", "--url", server.url("ok", name), "--sha256", sha256, "--ca-bundle",
                              server.ca_file().string(), "--cache-dir", (dir.path() / "cache").string(), "--unpack-to",
                              (dir.path() / "ofed").string(), "--json"});
  INFO(result.err);
  REQUIRE(result.exit_status == 0);
  auto json = nlohmann::json::parse(result.out);
  CHECK(json["streamed"] == true);
  CHECK(json["unpacked"]["files"] == 23);
  CHECK(fs::exists(dir.path() / "ofed/MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64/DEBS/Packages"));
  auto wrong = ibdriver_cli({"fetch", "--url", server.url("wrong", name), "--sha256", sha256, "--ca-bundle",
                             server.ca_file().string(), "--cache-dir", (dir.path() / "cache2").string(), "--unpack-to",
                             (dir.path() / "ofed2").string()});
  CHECK(wrong.exit_status == 14);
  CHECK_FALSE(fs::exists(dir.path() / "ofed2"));
}
