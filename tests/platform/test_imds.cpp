#include <cstdlib>
#include <fstream>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "platform/imds.hpp"
#include "support/imds_server.hpp"
#include "support/temp_dir.hpp"

using namespace ibdriver;
using namespace std::chrono_literals;

namespace {
platform::ImdsOptions quick(const std::string& url) {
  platform::ImdsOptions options;
  options.url = url;
  options.attempts = 2;
  options.connect_timeout = 1000ms;
  options.attempt_timeout = 1500ms;
  options.first_backoff = 50ms;
  options.busy_budget = 300ms;
  return options;
}

std::string imds_failure(const platform::ImdsOptions& options) {
  try {
    platform::query_imds(options);
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::vm_size_not_supported);
    CHECK_FALSE(error.hint().empty());
    return error.what();
  }
  FAIL("expected exit 13");
  return {};
}
}  // namespace

TEST_CASE("IMDS answers the VM size", "[imds]") {
  test::ImdsServer server({"--vm-size", "Standard_ND96isr_H100_v5"});
  auto identity = platform::query_imds(quick(server.url()));
  CHECK(identity.vm_size == "Standard_ND96isr_H100_v5");
  CHECK(identity.location == "southcentralus");
  CHECK(identity.publisher == "microsoft-dsvm");
}

TEST_CASE("IMDS is never reached through a proxy", "[imds]") {
  test::ImdsServer server;
  // A proxy that does not exist: if IMDS went through it, the query would fail.
  ::setenv("http_proxy", "http://127.0.0.1:9", 1);
  ::setenv("HTTP_PROXY", "http://127.0.0.1:9", 1);
  ::setenv("https_proxy", "http://127.0.0.1:9", 1);
  ::unsetenv("no_proxy");
  ::unsetenv("NO_PROXY");
  auto identity = platform::query_imds(quick(server.url()));
  ::unsetenv("http_proxy");
  ::unsetenv("HTTP_PROXY");
  ::unsetenv("https_proxy");
  CHECK(identity.vm_size == "Standard_HB120rs_v3");
}

TEST_CASE("a transient IMDS failure is retried", "[imds]") {
  test::ImdsServer server({"--fail-first", "1", "--fail-status", "503"});
  CHECK(platform::query_imds(quick(server.url())).vm_size == "Standard_HB120rs_v3");
}

TEST_CASE("IMDS failures are exit 13 saying which", "[imds]") {
  SECTION("404") {
    test::ImdsServer server({"--mode", "404"});
    CHECK_THAT(imds_failure(quick(server.url())), Catch::Contains("answered HTTP 404"));
  }
  SECTION("500 on every attempt") {
    test::ImdsServer server({"--mode", "500"});
    CHECK_THAT(imds_failure(quick(server.url())), Catch::Contains("answered HTTP 500"));
  }
  SECTION("garbage") {
    test::ImdsServer server({"--mode", "garbage"});
    CHECK_THAT(imds_failure(quick(server.url())), Catch::Contains("not JSON"));
  }
  SECTION("JSON without vmSize") {
    test::ImdsServer server({"--mode", "no-vmsize"});
    CHECK_THAT(imds_failure(quick(server.url())), Catch::Contains("without a vmSize"));
  }
  SECTION("JSON that is not an object") {
    test::ImdsServer server({"--mode", "not-object"});
    CHECK_THAT(imds_failure(quick(server.url())), Catch::Contains("not an object"));
  }
  SECTION("stall") {
    test::ImdsServer server({"--mode", "stall"});
    auto started = std::chrono::steady_clock::now();
    CHECK_THAT(imds_failure(quick(server.url())), Catch::Contains("unreachable") && Catch::Contains("imed out"));
    CHECK(std::chrono::steady_clock::now() - started < 10s);
  }
  SECTION("an endless body") {
    test::ImdsServer server({"--mode", "huge"});
    CHECK_THAT(imds_failure(quick(server.url())), Catch::Contains("more than"));
  }
  SECTION("nothing listening") {
    CHECK_THAT(imds_failure(quick("http://127.0.0.1:9/metadata/instance/compute")), Catch::Contains("unreachable"));
  }
}

TEST_CASE("the IMDS parser takes only a JSON object with a string vmSize", "[imds]") {
  CHECK(platform::parse_imds_compute(R"({"vmSize":"Standard_HC44rs","osType":"Linux"})", "u").vm_size == "Standard_HC44rs");
  CHECK_THROWS_AS(platform::parse_imds_compute(R"({"vmSize":42})", "u"), Error);
  CHECK_THROWS_AS(platform::parse_imds_compute(R"({"vmSize":""})", "u"), Error);
  CHECK_THROWS_AS(platform::parse_imds_compute("", "u"), Error);
  CHECK_THROWS_AS(platform::parse_imds_compute("null", "u"), Error);
}

namespace {
int lines_in(const std::filesystem::path& file) {
  std::ifstream in(file);
  int count = 0;
  for (std::string line; std::getline(in, line);) ++count;
  return count;
}
}  // namespace

TEST_CASE("IMDS answering 410 early in boot is asked again, then read", "[imds]") {
  // Case 3 of issue 16: one 410, then the document.
  test::TempDir dir;
  auto log = dir.path() / "requests.log";
  test::ImdsServer server({"--fail-first", "1", "--fail-status", "410", "--log", log.string()});
  CHECK(platform::query_imds(quick(server.url())).vm_size == "Standard_HB120rs_v3");
  CHECK(lines_in(log) == 2);
}

TEST_CASE("IMDS busy (410, 429, 5xx) is retried within a bounded total, then exit 13", "[imds]") {
  auto status = GENERATE(as<std::string>{}, "410", "429", "503");
  INFO(status);
  test::ImdsServer server({"--fail-first", "1000", "--fail-status", status});
  SECTION("a short bound in real time") {
    auto options = quick(server.url());
    options.busy_budget = 400ms;
    auto started = std::chrono::steady_clock::now();
    CHECK_THAT(imds_failure(options), Catch::Contains("answered HTTP " + status + " on every request for"));
    CHECK(std::chrono::steady_clock::now() - started < 5s);
  }
  SECTION("the default bound, with the waits recorded instead of slept") {
    platform::ImdsOptions options;  // the defaults a VM runs with
    options.url = server.url();
    std::chrono::milliseconds waited{0};
    int waits = 0;
    options.sleep = [&](std::chrono::milliseconds wait) {
      waited += wait;
      ++waits;
    };
    CHECK_THAT(imds_failure(options), Catch::Contains("on every request for"));
    CHECK(waits >= 8);  // backoff 0.5, 1, 2, 4, then 8 s at most per wait
    CHECK(waited >= 70s);
    CHECK(waited <= 80s);
  }
}

TEST_CASE("a refused IMDS connection still fails within seconds, with the long busy bound", "[imds]") {
  platform::ImdsOptions options;  // default: busy_budget 80 s, 3 attempts for transport failures
  options.url = "http://127.0.0.1:9/metadata/instance/compute?api-version=2021-02-01";
  auto started = std::chrono::steady_clock::now();
  CHECK_THAT(imds_failure(options), Catch::Contains("unreachable"));
  CHECK(std::chrono::steady_clock::now() - started < 6s);
}

TEST_CASE("an IMDS base URL gets the standard path; the whole instance document is read", "[imds]") {
  // Case 5 of issue 16.
  test::ImdsServer server({"--vm-size", "Standard_HB176rs_v4"});
  CHECK(platform::query_imds(quick(server.base_url())).vm_size == "Standard_HB176rs_v4");
  CHECK(platform::query_imds(quick(server.base_url() + "/")).vm_size == "Standard_HB176rs_v4");
  CHECK(platform::query_imds(quick(server.base_url() + "/metadata/instance?api-version=2021-02-01")).vm_size ==
        "Standard_HB176rs_v4");
  CHECK(platform::query_imds(quick(server.base_url() + "/metadata/instance")).vm_size == "Standard_HB176rs_v4");
  CHECK(platform::parse_imds_compute(R"({"compute":{"vmSize":"Standard_HX176rs"},"network":{}})", "u").vm_size ==
        "Standard_HX176rs");
}

TEST_CASE("the IMDS request URL", "[imds]") {
  using platform::imds_request_url;
  CHECK(imds_request_url("http://169.254.169.254") ==
        "http://169.254.169.254/metadata/instance/compute?api-version=2021-02-01");
  CHECK(imds_request_url("http://10.0.0.1:8080/") == "http://10.0.0.1:8080/metadata/instance/compute?api-version=2021-02-01");
  CHECK(imds_request_url("http://h/metadata/instance") == "http://h/metadata/instance?api-version=2021-02-01");
  CHECK(imds_request_url(platform::default_imds_url) == platform::default_imds_url);
  CHECK(imds_request_url("http://h/metadata/instance/compute?api-version=2023-07-01") ==
        "http://h/metadata/instance/compute?api-version=2023-07-01");
  CHECK(imds_request_url("http://h?format=json") == "http://h/metadata/instance/compute?format=json&api-version=2021-02-01");
}

// The extension's enable asks once (busy_budget 0) and leaves the wait to its worker: a busy IMDS must
// be told from one that answered for good.
TEST_CASE("a busy IMDS is ImdsBusy, told before each wait; a 404 is not", "[imds][issue16]") {
  test::TempDir dir;
  auto log = dir.path() / "requests.log";
  test::ImdsServer busy({"--fail-first", "1000", "--fail-status", "410", "--log", log.string()});
  auto options = quick(busy.url());
  options.busy_budget = 0ms;
  options.on_wait = [](const std::string&, std::chrono::milliseconds) { FAIL("no wait with a budget of 0"); };
  CHECK_THROWS_AS(platform::query_imds(options), platform::ImdsBusy);
  CHECK(lines_in(log) == 1);
  CHECK_THAT(imds_failure(options), Catch::EndsWith("answered HTTP 410"));

  std::vector<std::string> told;
  options.busy_budget = 300ms;
  options.on_wait = [&](const std::string& failure, std::chrono::milliseconds wait) {
    CHECK(wait > 0ms);
    told.push_back(failure);
  };
  CHECK_THROWS_AS(platform::query_imds(options), platform::ImdsBusy);
  REQUIRE_FALSE(told.empty());
  CHECK_THAT(told.front(), Catch::Contains("answered HTTP 410"));

  test::ImdsServer missing({"--mode", "404"});
  auto gone = quick(missing.url());
  gone.busy_budget = 0ms;
  try {
    platform::query_imds(gone);
    FAIL("expected exit 13");
  } catch (const platform::ImdsBusy&) {
    FAIL("a 404 is an answer, not a busy IMDS");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::vm_size_not_supported);
  }
}
