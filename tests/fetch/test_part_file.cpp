#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

#include "core/error.hpp"
#include "fetch/part_file.hpp"
#include "fetch/sha256.hpp"
#include "support/https_server.hpp"
#include "support/temp_dir.hpp"

using ibdriver::fetch::PartFile;

namespace {

std::string digest(std::string_view bytes) {
  ibdriver::fetch::Sha256 hash;
  hash.update(bytes);
  return hash.finish();
}

std::string contents(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Appends in uneven chunks, so block boundaries (1 MiB) fall inside chunks.
void append_in_chunks(PartFile& part, std::string_view bytes) {
  std::size_t offset = 0;
  for (std::size_t step = 1; offset < bytes.size(); step = step * 31 % 300007 + 1) {
    auto size = std::min(step, bytes.size() - offset);
    part.append(bytes.data() + offset, size);
    offset += size;
  }
}

}  // namespace

TEST_CASE("a part file written behind holds and hashes every byte, in order", "[fetch][part]") {
  ibdriver::test::TempDir dir;
  auto bytes = ibdriver::test::deterministic_bytes(5 * 1024 * 1024 + 4099);
  auto path = dir.path() / "bundle.part";
  PartFile part(path);
  CHECK_FALSE(part.inherited());
  append_in_chunks(part, bytes);
  CHECK(part.size() == bytes.size());  // accepted bytes count at once, written or not
  CHECK(part.finish_hash() == digest(bytes));
  part.close();
  CHECK(contents(path) == bytes);
}

TEST_CASE("a part file resumes an earlier run's bytes and hashes them once", "[fetch][part]") {
  ibdriver::test::TempDir dir;
  auto bytes = ibdriver::test::deterministic_bytes(3 * 1024 * 1024 + 11, 7);
  auto path = dir.path() / "bundle.part";
  const std::size_t earlier = 1024 * 1024 + 513;
  {
    PartFile part(path);
    part.append(bytes.data(), earlier);
    // no close(): a run that died; what it accepted is on disk for the next one
  }
  CHECK(std::filesystem::file_size(path) == earlier);
  PartFile part(path);
  CHECK(part.inherited());
  CHECK(part.size() == earlier);
  append_in_chunks(part, std::string_view(bytes).substr(earlier));
  CHECK(part.finish_hash() == digest(bytes));
  part.close();
  CHECK(contents(path) == bytes);
}

TEST_CASE("truncating drops what was accepted and not yet written", "[fetch][part]") {
  ibdriver::test::TempDir dir;
  auto path = dir.path() / "bundle.part";
  auto wrong = ibdriver::test::deterministic_bytes(2 * 1024 * 1024 + 5, 3);
  auto right = ibdriver::test::deterministic_bytes(1024 * 1024 + 77, 4);
  PartFile part(path);
  append_in_chunks(part, wrong);
  part.truncate();
  CHECK(part.size() == 0);
  CHECK_FALSE(part.inherited());
  append_in_chunks(part, right);
  CHECK(part.finish_hash() == digest(right));
  // finish_hash() empties the hash: more bytes re-read the file first, and the digest covers all
  part.append("abc", 3);
  CHECK(part.finish_hash() == digest(right + "abc"));
  part.close();
  CHECK(contents(path) == right + "abc");
}

TEST_CASE("a part file that cannot be written says so on the caller's thread", "[fetch][part]") {
  // /dev/full answers every write with ENOSPC, as a full cache disk does.
  REQUIRE(std::filesystem::exists("/dev/full"));
  auto bytes = ibdriver::test::deterministic_bytes(3 * 1024 * 1024);
  {
    PartFile part("/dev/full");
    auto write_everything = [&] {
      append_in_chunks(part, bytes);
      part.close();
    };
    REQUIRE_THROWS_AS(write_everything(), ibdriver::FileError);
    try {
      append_in_chunks(part, bytes);
      part.close();
      FAIL("the second attempt wrote to a full disk");
    } catch (const ibdriver::FileError& error) {
      CHECK_THAT(error.what(), Catch::Contains("/dev/full") && Catch::Contains("No space left"));
      CHECK_THAT(error.hint(), Catch::Contains("free space"));
    }
    CHECK(part.size() == 0);    // what the file holds, not what was accepted
  }                             // unlocked (a second PartFile of one path waits for the first's flock)
  PartFile small("/dev/full");  // less than a block: written by close() itself
  small.append("abc", 3);
  CHECK_THROWS_AS(small.close(), ibdriver::FileError);
  CHECK(small.size() == 0);
}

TEST_CASE("removing a part file deletes it and what is still waiting", "[fetch][part]") {
  ibdriver::test::TempDir dir;
  auto path = dir.path() / "bundle.part";
  auto bytes = ibdriver::test::deterministic_bytes(4 * 1024 * 1024 + 1);
  PartFile part(path);
  append_in_chunks(part, bytes);
  part.remove();
  CHECK_FALSE(std::filesystem::exists(path));
}
