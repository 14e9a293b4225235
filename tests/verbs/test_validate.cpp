// Validation with libibverbs: the verdict on what it shows, and the real library loaded with dlopen.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "support/tools.hpp"
#include "verbs/validate.hpp"

using namespace ibdriver;
using namespace ibdriver::verbs;

namespace {
DeviceInfo device(const std::string& name, const std::string& state, const std::string& layer) {
  DeviceInfo info;
  info.name = name;
  PortInfo port;
  port.number = 1;
  port.state = state;
  port.link_layer = layer;
  port.rate = "200 Gb/s (4X HDR)";
  port.lid = 7;
  info.ports.push_back(port);
  return info;
}
}  // namespace

TEST_CASE("validation passes on an ACTIVE port of the expected link layer", "[verbs]") {
  auto report = judge({device("mlx5_0", "DOWN", "InfiniBand"), device("mlx5_1", "ACTIVE", "InfiniBand")}, LinkLayer::infiniband);
  CHECK(report.passed);
  CHECK(report.message == "mlx5_1 port 1 is ACTIVE on InfiniBand (200 Gb/s (4X HDR), LID 7)");
  CHECK(judge({device("rxe0", "ACTIVE", "Ethernet")}, LinkLayer::any).passed);
  CHECK(judge({device("rxe0", "ACTIVE", "Ethernet")}, LinkLayer::ethernet).passed);
}

TEST_CASE("validation failures say what is wrong and what to check", "[verbs]") {
  auto none = judge({}, LinkLayer::infiniband);
  CHECK_FALSE(none.passed);
  CHECK(none.message == "libibverbs sees no RDMA device");
  CHECK_THAT(none.hint, Catch::Contains("lsmod"));

  for (const char* state : {"DOWN", "INIT", "ARMED"}) {
    INFO(state);
    auto report = judge({device("mlx5_0", state, "InfiniBand")}, LinkLayer::infiniband);
    CHECK_FALSE(report.passed);
    CHECK(report.message == std::string("no port is ACTIVE: mlx5_0 port 1: ") + state + " on InfiniBand");
    CHECK_THAT(report.hint, Catch::Contains("subnet manager"));
  }
  auto roce = judge({device("mlx5_0", "ACTIVE", "Ethernet")}, LinkLayer::infiniband);
  CHECK_FALSE(roce.passed);
  CHECK_THAT(roce.message, Catch::Contains("ACTIVE on another link layer: mlx5_0 port 1"));
  CHECK_THAT(roce.hint, Catch::Contains("accept any link layer"));
  REQUIRE(roce.remedies.size() == 1);
  CHECK(roce.remedies[0].knob == Knob::expect_link_layer);
  CHECK(roce.remedies[0].value == "any");
  CHECK_THROWS_AS(require_passed(roce), Error);

  CHECK(parse_link_layer("InfiniBand") == LinkLayer::infiniband);
  CHECK(parse_link_layer("any") == LinkLayer::any);
  CHECK_FALSE(parse_link_layer("token-ring").has_value());
}

TEST_CASE("without libibverbs, validation is exit 14 naming rdma-core", "[verbs]") {
  try {
    (void)VerbsLibrary::load("libibverbs-not-installed.so.1");
    FAIL("loaded a library that does not exist");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::operation_failed);
    CHECK_THAT(std::string(error.what()), Catch::Contains("libibverbs-not-installed.so.1"));
    CHECK_THAT(error.hint(), Catch::Contains("rdma-core"));
  }
}

TEST_CASE("ibdriver validate uses the real libibverbs: no RDMA device on this machine is exit 14", "[verbs]") {
  // This machine has rdma-core's libibverbs (ci/install-deps) and no RDMA device; the VM harness
  // (ci/vm) shows a passing run on Soft-RoCE.
  auto result = test::run_ibdriver({"validate", "--json", "--wait", "0"});
  CHECK(result.exit_status == 14);
  auto report = nlohmann::json::parse(result.out);
  CHECK(report["passed"] == false);
  CHECK(report["devices"].empty());
  CHECK_THAT(result.err, Catch::Contains("validation failed: libibverbs sees no RDMA device"));
  CHECK(test::run_ibdriver({"validate", "--expect-link-layer", "token-ring"}).exit_status == 1);
}

TEST_CASE("IBDRIVER_EXPECT_LINK_LAYER is the link layer's default for validate and install", "[verbs]") {
  // A fixed command line (a cloud-init recipe) takes the expectation from the environment; a bad
  // value there is refused like the option's.
  for (const char* command : {"validate", "install"}) {
    INFO(command);
    auto bad = test::run_ibdriver({command, "--json"}, {"IBDRIVER_EXPECT_LINK_LAYER=token-ring"});
    CHECK(bad.exit_status == 1);
    CHECK_THAT(bad.err, Catch::Contains("expected infiniband, ethernet or any"));
  }
  auto good = test::run_ibdriver({"validate", "--json", "--wait", "0"}, {"IBDRIVER_EXPECT_LINK_LAYER=any"});
  CHECK(good.exit_status == 14);
  CHECK(nlohmann::json::parse(good.out)["expect_link_layer"] == "any");
  CHECK(nlohmann::json::parse(test::run_ibdriver({"validate", "--json", "--wait", "0"}).out)["expect_link_layer"] == "infiniband");
}
