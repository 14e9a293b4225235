// A mirror that a whole scale set asks at once answers most of them 429 with Retry-After (issue 20):
// those answers must neither use up the attempts nor bring the fleet back in one instant.
#include <algorithm>
#include <set>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "fetch/bundle_fetch.hpp"
#include "fetch/retry_policy.hpp"
#include "support/https_server.hpp"
#include "support/temp_dir.hpp"

using namespace ibdriver;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t file_size = 1024 * 1024 + 7;
const std::string name = "MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64.tgz";

struct BusyMirror {
  test::HttpsServer server;
  test::TempDir cache_dir;
  fetch::BundleCache cache{cache_dir.path()};
  std::string sha256 = server.add_file(name, file_size);
  fetch::TransferSettings settings;
  fetch::DownloadObserver quiet;

  BusyMirror() {
    settings.extra_ca = server.ca_file();
    settings.first_backoff = 50ms;
    settings.max_backoff = 2000ms;
    settings.connect_timeout = 5000ms;
    settings.attempts_per_source = 1;  // one real failure ends a source: only busy answers may be retried
  }

  fetch::FetchResult fetch(const std::string& url, std::vector<std::string> mirrors = {}) {
    return fetch::fetch_bundle({url, sha256, name, std::nullopt, std::move(mirrors), false}, cache, settings, quiet);
  }
};

}  // namespace

TEST_CASE("busy answers are 429, and 503 with Retry-After", "[retry][busy]") {
  CHECK(fetch::is_busy_answer(429, true));
  CHECK(fetch::is_busy_answer(429, false));
  CHECK(fetch::is_busy_answer(503, true));
  CHECK_FALSE(fetch::is_busy_answer(503, false));  // an outage, maybe: counted like any 5xx
  CHECK_FALSE(fetch::is_busy_answer(500, true));
  CHECK_FALSE(fetch::is_busy_answer(200, false));
}

TEST_CASE("Retry-After is waited at least, with jitter that spreads a fleet told the same delay", "[retry][busy]") {
  std::set<long long> waits;
  for (int node = 0; node < 100; ++node) {
    fetch::Backoff backoff(100ms, 60s);
    auto wait = backoff.next(2s);
    CHECK(wait >= 2000ms);
    CHECK(wait <= 3000ms);
    waits.insert(wait.count());
  }
  CHECK(waits.size() > 50);  // 100 draws from 1001 values: not one instant
  CHECK(*waits.rbegin() - *waits.begin() > 500);
}

TEST_CASE("Retry-After does not advance the exponential backoff", "[retry][busy]") {
  fetch::Backoff backoff(100ms, 60s);
  for (int i = 0; i < 30; ++i) backoff.next(1s);
  auto after_busy = backoff.next(std::nullopt);
  CHECK(after_busy >= 100ms);
  CHECK(after_busy <= 150ms);
}

TEST_CASE("429 answers do not use up the attempts", "[fetch][busy]") {
  BusyMirror mirror;
  auto started = std::chrono::steady_clock::now();
  auto result = mirror.fetch(mirror.server.url("429,429,ok", name));
  CHECK(result.sha256 == mirror.sha256);
  CHECK(result.attempts == 3);
  CHECK(std::chrono::steady_clock::now() - started >= 2000ms);  // twice Retry-After: 1, never earlier
  CHECK(mirror.server.requests().size() == 3);
}

TEST_CASE("other server errors still count as failed attempts", "[fetch][busy]") {
  BusyMirror mirror;
  try {
    mirror.fetch(mirror.server.url("500,ok", name));
    FAIL("expected the fetch to fail after one attempt");
  } catch (const Error& error) {
    CHECK_THAT(error.what(), Catch::Contains("gave up after 1 attempts"));
  }
}

TEST_CASE("a mirror that stays busy past the patience hands over to the next source", "[fetch][busy]") {
  BusyMirror mirror;
  mirror.settings.busy_patience = 2500ms;  // Retry-After: 1 plus jitter: two or three waits fit
  const auto busy_url = mirror.server.url("429", name);
  auto result = mirror.fetch(mirror.server.url("files", name), {busy_url.substr(0, busy_url.rfind('/'))});
  CHECK(result.sha256 == mirror.sha256);
  CHECK(result.url == mirror.server.url("files", name));
  auto log = mirror.server.requests();
  auto busy = std::count_if(log.begin(), log.end(), [](const std::string& line) { return line.find(" 429 ") != std::string::npos; });
  CHECK(busy >= 2);
  CHECK(busy <= 4);
}

TEST_CASE("the patience ends a busy source with a message that says so", "[fetch][busy]") {
  BusyMirror mirror;
  mirror.settings.busy_patience = 1200ms;
  try {
    mirror.fetch(mirror.server.url("429", name));
    FAIL("expected the fetch to fail");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::operation_failed);
    CHECK_THAT(error.what(), Catch::Contains("HTTP 429") && Catch::Contains("still busy after"));
  }
}
