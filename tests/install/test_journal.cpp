// The journal's migration promise: today's code reads what earlier releases wrote.
#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "install/journal.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;

TEST_CASE("a schema 1 journal written by 0.1.0 is read and migrated", "[install][journal]") {
  auto text = test::file_text(std::string(IBDRIVER_TEST_FIXTURES) + "/journal/schema1-0.1.0.json");
  auto record = install::Journal::parse(text, "schema1-0.1.0.json");
  CHECK(record.schema == 1);
  CHECK(record.release_version == "24.10-1.1.4.0");
  // 0.1.0 stored the host path under --root; the system path is what it meant.
  CHECK(record.bundle_dir ==
        "/var/lib/ibdriver/bundles/5be3bdc2ab5d0cf0b4ad5d8c5e0b6a1e8d1e3b0f2f8f0e8f3f7d7a5a3c6b2e1d0");
  REQUIRE(record.dkms_modules.size() == 2);
  const auto* core = record.module("mlnx-ofed-kernel");
  REQUIRE(core != nullptr);
  CHECK(core->version == "24.10");
  CHECK(core->kernels == std::vector<std::string>{"6.1.0-28-amd64", "6.1.0-28-cloud-amd64"});
  CHECK(record.stage_done("dkms"));
  CHECK_FALSE(record.stage_done("unpack"));
  CHECK(record.configuration.at(1).original == std::string("OS.EnableRDMA=n\n"));
  CHECK(record.ipoib);

  // Saved again, it is schema 2 and reads back the same.
  test::TempDir dir;
  SystemRoot root(dir.path());
  install::Journal::begin(root, record);
  auto again = install::Journal::load(root);
  REQUIRE(again.has_value());
  CHECK(again->record().schema == install::Journal::schema_version);
  CHECK(again->record().bundle_dir == record.bundle_dir);
  CHECK(again->record().module("iser")->kernels == record.module("iser")->kernels);
  CHECK(again->record().stage_done("configure"));
}

TEST_CASE("a journal from a newer ibdriver, or without a schema, is refused with what to do", "[install][journal]") {
  CHECK_THROWS_WITH(install::Journal::parse(R"({"schema": 3})", "state.json"), Catch::Contains("newer than this ibdriver reads"));
  CHECK_THROWS_WITH(install::Journal::parse(R"({"release": {}})", "state.json"), Catch::Contains("damaged"));
  CHECK_THROWS_WITH(install::Journal::parse(R"({"schema": 0})", "state.json"), Catch::Contains("no valid schema"));
}
