// The signed catalog channel's checks: signature, serial (no rollback), re-pinning, the store.
#include <fstream>

#include <catch2/catch.hpp>

#include "catalog/channel.hpp"
#include "catalog/signature.hpp"
#include "core/error.hpp"
#include "support/catalog_signer.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;

namespace {
const std::string sum_a(64, 'a');

std::string refusal(const std::string& document, const std::string& signature, const std::vector<catalog::TrustedKey>& keys,
                    const std::optional<catalog::StoredChannel>& stored = std::nullopt) {
  try {
    catalog::accept_channel(document, signature, keys, stored, "https://publisher.example/catalog.json");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::operation_failed);
    return error.what();
  }
  FAIL("expected exit 14");
  return {};
}
}  // namespace

TEST_CASE("a channel catalog signed by a trusted key is accepted", "[catalog][channel]") {
  test::TempDir dir;
  test::CatalogSigner publisher;
  auto document = test::channel_document(5, test::release_row("MLNX_OFED_LINUX-24.10-1.1.4.0-debian12-x86_64.tgz", sum_a));
  auto signature = publisher.sign(dir.path() / "catalog.json", document);
  auto keys = catalog::built_in_catalog_keys();
  keys.push_back(publisher.trusted());
  auto accepted = catalog::accept_channel(document, signature, keys, std::nullopt, "u");
  CHECK(accepted.key == "test publisher");
  CHECK(accepted.catalog.serial == 5);
  REQUIRE(accepted.catalog.releases.size() == 1);
  CHECK(accepted.catalog.releases[0].origin == "signed channel serial 5");
}

TEST_CASE("bad channel input is exit 14: signature, key, truncation, rollback, SHA-256, re-pin", "[catalog][channel]") {
  test::TempDir dir;
  test::CatalogSigner publisher;
  test::CatalogSigner stranger;
  const std::vector<catalog::TrustedKey> keys{publisher.trusted()};
  auto document = test::channel_document(5, test::release_row("MLNX_OFED_LINUX-24.10-1.1.4.0-debian12-x86_64.tgz", sum_a));
  auto signature = publisher.sign(dir.path() / "catalog.json", document);

  SECTION("a signature of other bytes") {
    auto flipped = signature;
    flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x01);
    CHECK_THAT(refusal(document, flipped, keys), Catch::Contains("not signed by a trusted key"));
    CHECK_THAT(refusal(document, "", keys), Catch::Contains("not signed by a trusted key"));
  }
  SECTION("a key that is not trusted") {
    auto theirs = stranger.sign(dir.path() / "other.json", document);
    CHECK_THAT(refusal(document, theirs, keys), Catch::Contains("not signed by a trusted key"));
    CHECK_THAT(refusal(document, signature, catalog::built_in_catalog_keys()), Catch::Contains("1 key(s) tried"));
  }
  SECTION("a truncated catalog") {
    auto cut = document.substr(0, document.size() / 2);
    CHECK_THAT(refusal(cut, signature, keys), Catch::Contains("not signed"));
    // Even signed, a truncated catalog is not a catalog.
    auto signed_cut = publisher.sign_raw(dir.path() / "cut.json", cut);
    CHECK_THAT(refusal(cut, signed_cut, keys), Catch::Contains("not valid JSON"));
  }
  SECTION("an older serial") {
    catalog::StoredChannel stored;
    stored.serial = 6;
    stored.document = "{}";
    CHECK_THAT(refusal(document, signature, keys, stored), Catch::Contains("serial 5, older than the stored serial 6") &&
                                                                Catch::Contains("no rollback"));
    stored.serial = 5;  // the same serial with other bytes is refused too
    CHECK_THAT(refusal(document, signature, keys, stored), Catch::Contains("different content"));
    stored.document = document;
    CHECK(catalog::accept_channel(document, signature, keys, stored, "u").same_as_stored);
  }
  SECTION("a row with a bad SHA-256") {
    auto bad = test::channel_document(7, test::release_row("x.tgz", "1234"));
    CHECK_THAT(refusal(bad, publisher.sign(dir.path() / "bad.json", bad), keys), Catch::Contains("sha256"));
  }
  SECTION("a row that re-pins a file the built-in catalog pins") {
    auto repin = test::channel_document(8, test::release_row("MLNX_OFED_LINUX-24.01-0.3.3.1-ubuntu22.04-x86_64.tgz", sum_a, "22.04"));
    CHECK_THAT(refusal(repin, publisher.sign(dir.path() / "repin.json", repin), keys),
               Catch::Contains("MLNX_OFED_LINUX-24.01-0.3.3.1-ubuntu22.04-x86_64.tgz") &&
                   Catch::Contains("caa74c295ec88afd1f1c950b4bd6e32c609e3c5185199c7e344bf492ccef6429"));
  }
}

TEST_CASE("the stored channel round-trips, and a damaged store is exit 14 naming it", "[catalog][channel]") {
  test::TempDir dir;
  SystemRoot root(dir.path());
  auto file = catalog::channel_store_path(root);
  CHECK(file == dir.path() / "var/lib/ibdriver/catalog/channel.json");
  CHECK_FALSE(catalog::read_stored_channel(file).has_value());
  CHECK_FALSE(catalog::stored_channel_catalog(root).has_value());
  catalog::StoredChannel channel;
  channel.document = test::channel_document(9, test::release_row("a.tgz", sum_a));
  channel.signature = std::string("\x00\x01\xff", 3);
  channel.serial = 9;
  channel.url = "https://publisher.example/catalog.json";
  channel.key = "k";
  catalog::write_stored_channel(file, channel);
  auto back = catalog::read_stored_channel(file);
  REQUIRE(back.has_value());
  CHECK(back->document == channel.document);
  CHECK(back->signature == channel.signature);
  CHECK(back->serial == 9);
  CHECK_FALSE(back->stored_at.empty());
  auto rows = catalog::stored_channel_catalog(root);
  REQUIRE(rows.has_value());
  CHECK(rows->releases.at(0).origin == "signed channel serial 9");
  // Precedence: a user's file > the channel > built-in, in the merged list and in the resolver.
  auto merged = catalog::load_catalog(std::nullopt, rows);
  CHECK(merged.releases.front().origin == "signed channel serial 9");
  CHECK(merged.releases.back().origin == "built-in");

  std::ofstream(file) << "{\"document\": 5}";
  try {
    catalog::read_stored_channel(file);
    FAIL("expected exit 14");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::operation_failed);
    CHECK_THAT(error.what(), Catch::Contains(file.string()));
  }
}

TEST_CASE("the built-in key is the committed public key, and keys are read from PEM files", "[catalog][channel]") {
  auto committed = test::file_text(std::string(IBDRIVER_SOURCE_DIR) + "/packaging/catalog-keys/ibdriver-catalog-2026-1.pub.pem");
  REQUIRE(catalog::built_in_catalog_keys().size() == 1);
  CHECK(catalog::built_in_catalog_keys()[0].pem == committed);
  CHECK(committed.find("PRIVATE") == std::string::npos);
  test::TempDir dir;
  test::CatalogSigner publisher;
  CHECK(catalog::read_trusted_key(publisher.public_key().string()).pem == publisher.trusted().pem);
  std::ofstream(dir.path() / "junk.pem") << "not a key";
  try {
    catalog::read_trusted_key((dir.path() / "junk.pem").string());
    FAIL("expected exit 1");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::usage);
  }
}
