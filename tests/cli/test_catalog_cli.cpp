// `ibdriver catalog update|show` from the command line, against the real HTTPS test server and its CA.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/files.hpp"
#include "support/catalog_signer.hpp"
#include "support/fake_machine.hpp"
#include "support/https_server.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;

namespace {
const std::string sum_b(64, 'b');

struct Publisher {
  test::HttpsServer server;
  test::CatalogSigner signer;
  // Publishes `document` as NAME and NAME.sig; returns its URL.
  std::string publish(const std::string& name, const std::string& document) {
    signer.sign(server.file(name), document);
    return server.url("files", name);
  }
};

struct Node {
  test::TempDir dir;
  test::FakeMachine machine{dir.path()};
  Node() {
    test::populate_profile(machine, "hb120rs_v3");
    machine.os_release_fixture("debian12");  // no built-in row: only a channel row can serve it
  }
  std::string root() const { return dir.path().string(); }
  std::filesystem::path store() const { return dir.path() / "var/lib/ibdriver/catalog/channel.json"; }
};

ProcessResult update(const Node& node, const Publisher& publisher, const std::string& url, bool with_key = true) {
  std::vector<std::string> arguments{"--root", node.root(), "catalog", "update", "--from", url, "--ca-bundle",
                                     publisher.server.ca_file().string()};
  if (with_key) {
    arguments.emplace_back("--catalog-key");
    arguments.push_back(publisher.signer.public_key().string());
  }
  return test::run_ibdriver(arguments);
}

std::string debian_row(const std::string& sha256) {
  return test::release_row("MLNX_OFED_LINUX-24.10-1.1.4.0-debian12-x86_64.tgz", sha256);
}
}  // namespace

TEST_CASE("catalog update stores a signed catalog that plan then uses; an older serial is refused", "[cli][channel]") {
  Node node;
  Publisher publisher;
  auto before = test::run_ibdriver({"--root", node.root(), "plan", "--skip-vm-size-check"});
  CHECK(before.exit_status == 12);

  auto url = publisher.publish("catalog.json", test::channel_document(5, debian_row(sum_b)));
  auto stored = update(node, publisher, url);
  INFO(stored.err);
  REQUIRE(stored.exit_status == 0);
  CHECK_THAT(stored.out, Catch::Contains("stored catalog serial 5"));
  const auto kept = test::file_text(node.store());
  REQUIRE_FALSE(kept.empty());

  auto plan = test::run_ibdriver({"--root", node.root(), "plan", "--skip-vm-size-check", "--json"});
  INFO(plan.err);
  REQUIRE(plan.exit_status == 0);
  auto json = nlohmann::json::parse(plan.out);
  CHECK(json["release"]["origin"] == "signed channel serial 5");
  CHECK(json["release"]["sha256"] == sum_b);

  auto show = test::run_ibdriver({"--root", node.root(), "catalog", "show", "--json"});
  REQUIRE(show.exit_status == 0);
  auto listed = nlohmann::json::parse(show.out);
  CHECK(listed["channel"]["serial"] == 5);
  CHECK(listed["releases"][0]["origin"] == "signed channel serial 5");
  CHECK(listed["releases"].back()["origin"] == "built-in");

  SECTION("the same catalog again changes nothing") {
    auto again = update(node, publisher, url);
    CHECK(again.exit_status == 0);
    CHECK_THAT(again.out, Catch::Contains("already have catalog serial 5"));
  }
  SECTION("an older serial is refused (no rollback), the stored catalog untouched") {
    auto old_url = publisher.publish("old.json", test::channel_document(4, debian_row(std::string(64, 'c'))));
    auto refused = update(node, publisher, old_url);
    CHECK(refused.exit_status == 14);
    CHECK_THAT(refused.err, Catch::Contains("older than the stored serial 5") && Catch::Contains("no rollback"));
    CHECK(test::file_text(node.store()) == kept);
  }
  SECTION("a newer serial replaces it") {
    auto newer = update(node, publisher, publisher.publish("new.json", test::channel_document(6, debian_row(std::string(64, 'd')))));
    CHECK(newer.exit_status == 0);
    CHECK_THAT(newer.out, Catch::Contains("serial 6") && Catch::Contains("replacing serial 5"));
  }
  SECTION("bad input is exit 14 and leaves the stored catalog untouched") {
    // A signature of other bytes: the catalog was changed after signing.
    publisher.publish("tampered.json", test::channel_document(7, debian_row(sum_b)));
    write_file_atomically(publisher.server.file("tampered.json"), test::channel_document(7, debian_row(std::string(64, 'e'))));
    auto tampered = update(node, publisher, publisher.server.url("files", "tampered.json"));
    CHECK(tampered.exit_status == 14);
    CHECK_THAT(tampered.err, Catch::Contains("not signed by a trusted key"));
    // The publisher's key not given: only the built-in key is trusted.
    auto unknown_key = update(node, publisher, url, false);
    CHECK(unknown_key.exit_status == 14);
    // No signature published.
    write_file_atomically(publisher.server.file("unsigned.json"), test::channel_document(8, debian_row(sum_b)));
    auto unsigned_catalog = update(node, publisher, publisher.server.url("files", "unsigned.json"));
    CHECK(unsigned_catalog.exit_status == 14);
    CHECK_THAT(unsigned_catalog.err, Catch::Contains("HTTP 404"));
    CHECK(test::file_text(node.store()) == kept);
  }
}

TEST_CASE("catalog update refuses what a user gave wrong with exit 1", "[cli][channel]") {
  Node node;
  Publisher publisher;
  auto url = publisher.publish("catalog.json", test::channel_document(1, debian_row(sum_b)));
  CHECK(test::run_ibdriver({"--root", node.root(), "catalog", "update"}).exit_status == 1);  // no URL built in
  CHECK(test::run_ibdriver({"--root", node.root(), "catalog", "update", "--from", "http://127.0.0.1:9/c.json"}).exit_status == 1);
  auto bad_key = test::run_ibdriver({"--root", node.root(), "catalog", "update", "--from", url, "--catalog-key",
                                     (node.dir.path() / "etc/os-release").string()});
  CHECK(bad_key.exit_status == 1);
  CHECK_THAT(bad_key.err, Catch::Contains("no PEM public key"));
  // TLS is verified: without the test CA the server's certificate is not trusted.
  auto untrusted = test::run_ibdriver({"--root", node.root(), "catalog", "update", "--from", url, "--catalog-key",
                                       publisher.signer.public_key().string()});
  CHECK(untrusted.exit_status == 14);
  CHECK_FALSE(std::filesystem::exists(node.store()));
}

TEST_CASE("fetch --os and fetch --bundle resolve against the stored signed channel, as plan does", "[cli][channel][fetch]") {
  Node node;
  Publisher publisher;
  const std::string name = "MLNX_OFED_LINUX-24.10-1.1.4.0-debian12-x86_64.tgz";
  auto sha256 = publisher.server.add_file(name, 64 * 1024);
  // A channel row that only the channel has (no built-in row serves Debian 12), served by the test server.
  auto row = fmt::format(R"({{"kind": "mofed-tgz", "version": "24.10-1.1.4.0", "os": {{"id": "debian", "version": "12"}},
    "label": "debian12", "url": "{}", "sha256": "{}", "min_generation": "connectx-4"}})",
                         publisher.server.url("files", name), sha256);
  auto stored = update(node, publisher, publisher.publish("catalog.json", test::channel_document(3, row)));
  INFO(stored.err);
  REQUIRE(stored.exit_status == 0);

  auto for_os = test::run_ibdriver({"--root", node.root(), "fetch", "--os", "debian:12", "--ca-bundle",
                                    publisher.server.ca_file().string(), "--json"});
  INFO(for_os.err);
  CHECK(for_os.exit_status == 0);
  if (for_os.exit_status == 0) CHECK(nlohmann::json::parse(for_os.out)["sha256"] == sha256);

  auto bundle = test::run_ibdriver({"--root", node.root(), "fetch", "--bundle", publisher.server.file(name).string(), "--json"});
  INFO(bundle.err);
  CHECK(bundle.exit_status == 0);
  if (bundle.exit_status == 0) CHECK(nlohmann::json::parse(bundle.out)["sha256"] == sha256);

  // A --catalog file still comes first: its row for the same file wins over the channel's.
  write_file_atomically(node.dir.path() / "overlay.json",
                        fmt::format(R"({{"schema": 1, "releases": [{}]}})", test::release_row(name, std::string(64, 'f'))));
  auto overlaid = test::run_ibdriver({"--root", node.root(), "fetch", "--bundle", publisher.server.file(name).string(),
                                      "--catalog", (node.dir.path() / "overlay.json").string()});
  CHECK(overlaid.exit_status == 14);
  CHECK_THAT(overlaid.err, Catch::Contains(std::string(64, 'f')));
}
