#include <cstdlib>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "platform/imds.hpp"
#include "support/imds_server.hpp"

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
