// Downloads from a real HTTPS server on 127.0.0.1 that is told to fail in every way a network can.
#include <fstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "core/error.hpp"
#include "fetch/bundle_fetch.hpp"
#include "fetch/sha256.hpp"
#include "support/https_server.hpp"
#include "support/temp_dir.hpp"

using namespace ibdriver;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t file_size = 3 * 1024 * 1024 + 123;
const std::string name = "MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64.tgz";

struct Fixture {
  test::HttpsServer server;
  test::TempDir cache_dir;
  fetch::BundleCache cache{cache_dir.path()};
  std::string sha256 = server.add_file(name, file_size);
  fetch::TransferSettings settings;
  fetch::DownloadObserver quiet;

  Fixture() {
    settings.extra_ca = server.ca_file();
    settings.first_backoff = 50ms;
    settings.max_backoff = 2000ms;
    settings.stall_timeout = 1500ms;
    settings.attempts_per_source = 4;
    settings.connect_timeout = 5000ms;
  }

  fetch::BundleSource source(const std::string& modes, const std::string& listener = "good") const {
    return {server.url(modes, name, listener), sha256, name, std::nullopt, {}, false};
  }
  fetch::FetchResult fetch(const fetch::BundleSource& from) { return fetch::fetch_bundle(from, cache, settings, quiet); }
  fetch::FetchResult fetch(const std::string& modes) { return fetch(source(modes)); }

  // The message of the exit-14 failure a fetch must end in.
  std::string failure(const fetch::BundleSource& from) {
    try {
      fetch(from);
    } catch (const Error& error) {
      CHECK(error.code() == ExitCode::operation_failed);
      return error.what();
    }
    FAIL("expected the fetch to fail");
    return {};
  }
  std::string failure(const std::string& modes) { return failure(source(modes)); }

  void seed_part(const std::string& bytes) const { std::ofstream(cache.part_path(sha256), std::ios::binary) << bytes; }
  bool cached() const { return fs::exists(cache.entry_path(sha256)); }
  std::size_t part_bytes() const {
    std::error_code error;
    auto size = fs::file_size(cache.part_path(sha256), error);
    return error ? 0 : size;
  }
  std::size_t requests() const { return server.requests().size(); }
};

void check_delivered(const Fixture& fixture, const fetch::FetchResult& result) {
  CHECK(result.sha256 == fixture.sha256);
  CHECK(result.bytes == file_size);
  CHECK(fetch::sha256_of_file(result.path) == fixture.sha256);
  CHECK(result.path == fixture.cache.entry_path(fixture.sha256));
  CHECK_FALSE(fs::exists(fixture.cache.part_path(fixture.sha256)));
}

}  // namespace

TEST_CASE("a bundle is downloaded, verified, cached, and reused without the network", "[fetch]") {
  Fixture fixture;
  auto first = fixture.fetch("ok");
  check_delivered(fixture, first);
  CHECK_FALSE(first.from_cache);
  CHECK_FALSE(first.resumed);
  CHECK(first.attempts == 1);
  CHECK(fixture.requests() == 1);
  auto again = fixture.fetch("404");  // the network would fail now
  CHECK(again.from_cache);
  CHECK(fixture.requests() == 1);
}

TEST_CASE("interruptions are resumed with Range and end in the right bytes", "[fetch]") {
  Fixture fixture;
  auto modes = GENERATE(as<std::string>{}, "reset,ok", "stall,ok", "short,ok", "reset,reset,ok", "503,ok", "429,ok",
                        "500,ok", "redirect", "drip");
  INFO(modes);
  auto result = fixture.fetch(modes);
  check_delivered(fixture, result);
  auto log = fixture.server.requests();
  if (modes.rfind("reset", 0) == 0 || modes.rfind("stall", 0) == 0 || modes.rfind("short", 0) == 0) {
    CHECK(result.resumed);
    REQUIRE(log.size() >= 2);
    CHECK_THAT(log.back(), Catch::Contains("bytes=") && !Catch::Contains("bytes=0-"));
  }
}

TEST_CASE("Retry-After is honoured", "[fetch]") {
  Fixture fixture;
  auto started = std::chrono::steady_clock::now();
  check_delivered(fixture, fixture.fetch("503,ok"));
  CHECK(std::chrono::steady_clock::now() - started >= 900ms);  // the server asked for 1 s; the default backoff is 50 ms
}

TEST_CASE("what a download took is reported: requests, resume, the waits a busy server asked for", "[fetch]") {
  Fixture fixture;
  auto result = fixture.fetch("503,reset,ok");
  check_delivered(fixture, result);
  CHECK(result.attempts == 3);
  CHECK(result.resumed);
  // Retry-After: 1, plus up to half of it again as jitter; the reset's retry is a failure, not a busy wait.
  CHECK(result.busy_waited >= 1000ms);
  CHECK(result.busy_waited <= 1500ms);
  auto said = fetch::describe_source(result);
  CHECK_THAT(said, Catch::StartsWith("from https://127.0.0.1:") && Catch::Contains("/503,reset,ok/" + name + " in 3 requests, resumed, 1.") &&
                       Catch::EndsWith(" s waiting on a busy server"));
  CHECK(result.source_requests == 3);
  auto plain = fixture.fetch("ok");  // now cached
  CHECK(fetch::describe_source(plain) == "from the cache");
  CHECK(plain.busy_waited == 0ms);
}

TEST_CASE("the requests and waits of a source that failed are not the delivering source's", "[fetch]") {
  Fixture fixture;
  fixture.settings.busy_patience = 500ms;  // less than Retry-After: 1, so the busy mirror is given up at once
  auto from = fixture.source("ok");
  from.mirrors = {fmt::format("https://127.0.0.1:{}/429", fixture.server.port("good"))};
  auto result = fixture.fetch(from);
  check_delivered(fixture, result);
  CHECK(result.source_requests == 1);
  CHECK(result.attempts == 2);  // the mirror's 429, then the catalog's URL
  CHECK(result.busy_waited == 0ms);
  CHECK_THAT(fetch::describe_source(result),
             Catch::Contains("/ok/" + name + " in 1 request; 1 request to other sources first") && !Catch::Contains("busy"));
}

TEST_CASE("a partial file from an earlier run is resumed", "[fetch]") {
  Fixture fixture;
  fixture.seed_part(test::deterministic_bytes(file_size).substr(0, 1000000));
  auto result = fixture.fetch("ok");
  check_delivered(fixture, result);
  CHECK(result.resumed);
  REQUIRE(fixture.requests() == 1);
  CHECK_THAT(fixture.server.requests()[0], Catch::Contains("bytes=1000000-"));
}

TEST_CASE("a server that ignores Range restarts the file cleanly", "[fetch]") {
  Fixture fixture;
  fixture.seed_part(test::deterministic_bytes(file_size).substr(0, 777777));
  check_delivered(fixture, fixture.fetch("norange"));
}

TEST_CASE("a Content-Range that does not start where asked restarts from zero", "[fetch]") {
  Fixture fixture;
  fixture.seed_part(test::deterministic_bytes(file_size).substr(0, 4096));
  check_delivered(fixture, fixture.fetch("badrange,ok"));
}

TEST_CASE("a corrupt partial file from an earlier run is detected and downloaded again", "[fetch]") {
  Fixture fixture;
  fixture.seed_part(std::string(500000, 'x'));
  auto result = fixture.fetch("ok");
  check_delivered(fixture, result);
  CHECK(fixture.requests() == 2);  // the resumed bytes failed the sum; the second request starts at 0
}

TEST_CASE("a corrupt cache entry is discarded and fetched again", "[fetch]") {
  Fixture fixture;
  fixture.fetch("ok");
  std::ofstream(fixture.cache.entry_path(fixture.sha256), std::ios::binary) << "garbage";
  auto result = fixture.fetch("ok");
  CHECK_FALSE(result.from_cache);
  check_delivered(fixture, result);
}

TEST_CASE("wrong bytes are never accepted: exit 14 with both sums, nothing kept", "[fetch]") {
  Fixture fixture;
  auto message = fixture.failure("wrong");
  CHECK_THAT(message, Catch::Contains("SHA-256 mismatch") && Catch::Contains("expected " + fixture.sha256) &&
                          Catch::Contains(fixture.server.url("wrong", name)));
  CHECK_FALSE(fixture.cached());
  CHECK(fixture.part_bytes() == 0);
  // The next run is not disturbed by the failure.
  check_delivered(fixture, fixture.fetch("ok"));
}

TEST_CASE("client errors are not retried", "[fetch]") {
  Fixture fixture;
  auto status = GENERATE(as<std::string>{}, "404", "403");
  CHECK_THAT(fixture.failure(status), Catch::Contains("HTTP " + status));
  CHECK(fixture.requests() == 1);
}

TEST_CASE("persistent server errors give up after the configured attempts", "[fetch]") {
  Fixture fixture;
  fixture.settings.attempts_per_source = 3;
  CHECK_THAT(fixture.failure("500"), Catch::Contains("HTTP 500") && Catch::Contains("after 3 attempts"));
  CHECK(fixture.requests() == 3);
}

TEST_CASE("TLS is always verified: unknown CA, expired, wrong host name", "[fetch]") {
  Fixture fixture;
  auto listener = GENERATE(as<std::string>{}, "unknown_ca", "expired", "wrong_host");
  INFO(listener);
  auto message = fixture.failure(fixture.source("ok", listener));
  CHECK_THAT(message, Catch::Contains("certificate") || Catch::Contains("SSL"));
  CHECK(fixture.requests() == 0);  // refused during the handshake, never retried into a request
}

TEST_CASE("without --ca-bundle the test CA is not trusted", "[fetch]") {
  Fixture fixture;
  fixture.settings.extra_ca.reset();
  CHECK_THAT(fixture.failure("ok"), Catch::Contains("certificate"));
}

TEST_CASE("redirects never leave https, and loops end", "[fetch]") {
  Fixture fixture;
  CHECK_THAT(fixture.failure("redirect-http"), Catch::Contains("leave https"));
  CHECK_THAT(fixture.failure("redirect-loop"), Catch::Contains("redirect"));
}

TEST_CASE("plain http is refused unless the sum is pinned", "[fetch]") {
  Fixture fixture;
  auto plain = fixture.source("ok", "http");
  try {
    fixture.fetch(plain);
    FAIL("expected a refusal");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::usage);
    CHECK_THAT(error.what(), Catch::Contains("plain http"));
  }
  plain.allow_plain_http = true;
  check_delivered(fixture, fixture.fetch(plain));
}

TEST_CASE("mirrors are tried in order, with the file name before the query", "[fetch]") {
  Fixture fixture;
  auto from = fixture.source("404");
  from.mirrors = {fmt::format("https://127.0.0.1:{}/403?sv=2022&sig=SECRET", fixture.server.port("good")),
                  fmt::format("https://127.0.0.1:{}/ok?sig=SECRET", fixture.server.port("good"))};
  auto result = fixture.fetch(from);
  check_delivered(fixture, result);
  CHECK(result.url.find("SECRET") == std::string::npos);
  auto log = fixture.server.requests();
  REQUIRE(log.size() == 2);
  CHECK_THAT(log[0], Catch::Contains("/403/" + name + "?sv=2022&sig=SECRET"));
  CHECK_THAT(log[1], Catch::Contains("/ok/" + name));
}

TEST_CASE("failures name every source without its query string", "[fetch]") {
  Fixture fixture;
  auto from = fixture.source("404");
  from.mirrors = {fmt::format("https://127.0.0.1:{}/403?sig=SECRET", fixture.server.port("good"))};
  auto message = fixture.failure(from);
  CHECK(message.find("SECRET") == std::string::npos);
  CHECK_THAT(message, Catch::Contains("HTTP 403") && Catch::Contains("HTTP 404") && Catch::Contains("?…"));
}

TEST_CASE("a size that disagrees with the catalog is refused", "[fetch]") {
  Fixture fixture;
  auto from = fixture.source("ok");
  from.size = file_size - 1;
  CHECK_THAT(fixture.failure(from), Catch::Contains("catalog says"));
  CHECK_FALSE(fixture.cached());
}

TEST_CASE("the overall time limit ends a download that keeps stalling", "[fetch]") {
  Fixture fixture;
  fixture.settings.stall_timeout = 10s;
  fixture.settings.overall_timeout = 1500ms;
  auto started = std::chrono::steady_clock::now();
  CHECK_THAT(fixture.failure("stall"), Catch::Contains("overall limit"));
  CHECK(std::chrono::steady_clock::now() - started < 8s);
}

TEST_CASE("the --proxy option sends the download through a real forward proxy", "[fetch][proxy]") {
  Fixture fixture;
  test::ForwardProxy proxy;
  fixture.settings.proxy = proxy.url();
  check_delivered(fixture, fixture.fetch("ok"));
  CHECK_THAT(proxy.log(), Catch::Contains("CONNECT 127.0.0.1:" + std::to_string(fixture.server.port("good"))));
}

TEST_CASE("an offline bundle is verified once while it is imported", "[fetch][bundle]") {
  Fixture fixture;
  auto result = fetch::import_bundle(fixture.server.file(name), fixture.sha256, fixture.cache);
  check_delivered(fixture, result);
  test::TempDir other;
  fetch::BundleCache other_cache(other.path());
  std::ofstream(other.path() / name, std::ios::binary) << "not the bundle";
  try {
    fetch::import_bundle(other.path() / name, fixture.sha256, other_cache);
    FAIL("expected a mismatch");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::operation_failed);
    CHECK_THAT(error.what(), Catch::Contains(fixture.sha256) && Catch::Contains(name));
  }
  CHECK_FALSE(fs::exists(other_cache.entry_path(fixture.sha256)));
  CHECK_FALSE(fs::exists(other_cache.part_path(fixture.sha256)));
}

TEST_CASE("export writes the bundle and a sha256sum file", "[fetch][bundle]") {
  Fixture fixture;
  auto result = fixture.fetch("ok");
  test::TempDir out;
  auto exported = fetch::export_bundle(result, name, out.path() / "offline");
  CHECK(fetch::sha256_of_file(exported) == fixture.sha256);
  std::ifstream sums(out.path() / "offline" / (name + ".sha256"));
  std::string line;
  std::getline(sums, line);
  CHECK(line == fixture.sha256 + "  " + name);
}
