// fetch --unpack-to: the bundle is unpacked while it downloads, and promoted only once verified.
#include <fstream>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/process.hpp"
#include "fetch/sha256.hpp"
#include "pipeline/streamed_unpack.hpp"
#include "support/https_server.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct Fixture {
  test::HttpsServer server;
  test::TempDir dir;
  fetch::BundleCache cache{dir.path() / "cache"};
  fetch::TransferSettings settings;
  fetch::DownloadObserver quiet;
  std::string name = "MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64.tgz";
  std::string sha256;

  explicit Fixture(const std::string& kind = "bundle.tgz") {
    test::make_archive(kind, server.file(name));
    sha256 = fetch::sha256_of_file(server.file(name));
    settings.extra_ca = server.ca_file();
    settings.first_backoff = 50ms;
    settings.stall_timeout = 1500ms;
  }
  fetch::BundleSource source(const std::string& modes) const {
    return {server.url(modes, name), sha256, name, std::nullopt, {}, false};
  }
  pipeline::UnpackedFetch run(const std::string& modes) {
    return pipeline::fetch_and_unpack(source(modes), cache, settings, quiet, dir.path() / "out", {});
  }
  bool left_behind() const {
    for (const auto& entry : fs::directory_iterator(dir.path())) {
      if (entry.path().filename().string().find("staging") != std::string::npos) return true;
    }
    return fs::exists(dir.path() / "out");
  }
};

// The unpacked tree is exactly what GNU tar makes of the same file.
void check_tree(const Fixture& fixture) {
  auto gnu = fixture.dir.path() / "gnu";
  fs::remove_all(gnu);
  fs::create_directories(gnu);
  REQUIRE(run_process({"tar", "-xzf", fixture.server.file(fixture.name).string(), "-C", gnu.string()}).succeeded());
  auto diff = run_process({"diff", "-r", "--no-dereference", gnu.string(), (fixture.dir.path() / "out").string()});
  INFO(diff.out);
  CHECK(diff.succeeded());
  auto base = fixture.dir.path() / "out" / "MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64";
  std::ifstream version(base / ".mlnx");
  std::string line;
  std::getline(version, line);
  CHECK(line == "24.10-1.1.4.0");
}

}  // namespace

TEST_CASE("a bundle is unpacked from the stream as it downloads", "[stream]") {
  Fixture fixture;
  auto result = fixture.run("ok");
  CHECK(result.streamed);
  CHECK(result.report.files == 23);
  CHECK(result.fetched.sha256 == fixture.sha256);
  check_tree(fixture);
  CHECK(fs::exists(fixture.cache.entry_path(fixture.sha256)));
}

TEST_CASE("a download resumed within the run still streams", "[stream]") {
  Fixture fixture;
  auto result = fixture.run("reset,ok");
  CHECK(result.fetched.resumed);
  CHECK(result.streamed);
  check_tree(fixture);
}

TEST_CASE("a stream with a hole falls back to the verified file", "[stream]") {
  Fixture fixture;
  SECTION("a .part from an earlier run") {
    std::ifstream in(fixture.server.file(fixture.name), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(fixture.cache.part_path(fixture.sha256), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    auto result = fixture.run("ok");
    CHECK_FALSE(result.streamed);
    check_tree(fixture);
  }
  SECTION("a server that ignores Range after an interruption") {
    auto result = fixture.run("reset,norange");
    CHECK_FALSE(result.streamed);
    check_tree(fixture);
  }
}

TEST_CASE("from the cache, the verified file is unpacked", "[stream]") {
  Fixture fixture;
  fixture.run("ok");
  fs::remove_all(fixture.dir.path() / "out");
  auto again = fixture.run("404");
  CHECK(again.fetched.from_cache);
  check_tree(fixture);
}

TEST_CASE("wrong bytes: nothing is promoted, nothing is left behind", "[stream]") {
  Fixture fixture;
  CHECK_THROWS_AS(fixture.run("wrong"), Error);
  CHECK_FALSE(fixture.left_behind());
}

TEST_CASE("a download that fails midway leaves no unpacked files", "[stream]") {
  Fixture fixture;
  fixture.settings.attempts_per_source = 2;
  CHECK_THROWS_AS(fixture.run("reset"), Error);
  CHECK_FALSE(fixture.left_behind());
}

TEST_CASE("a hostile bundle with the right sum is still refused", "[stream]") {
  Fixture fixture("through-symlink");
  try {
    fixture.run("ok");
    FAIL("expected a refusal");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::operation_failed);
    CHECK_THAT(error.what(), Catch::Contains("link/file"));
  }
  CHECK_FALSE(fixture.left_behind());
}
