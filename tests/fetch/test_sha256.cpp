#include <catch2/catch.hpp>

#include "fetch/sha256.hpp"
#include "support/https_server.hpp"

using ibdriver::fetch::Sha256;

TEST_CASE("SHA-256 of lengths around the block size", "[sha256]") {
  auto digest = [](const std::string& bytes) {
    Sha256 hash;
    hash.update(bytes);
    return hash.finish();
  };
  CHECK(digest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(digest(std::string(1, 'a')) == "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb");
  CHECK(digest(std::string(63, 'a')) == "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34");
  CHECK(digest(std::string(64, 'a')) == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
  CHECK(digest(std::string(65, 'a')) == "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0");
}

TEST_CASE("SHA-256 of a multi-megabyte stream fed in odd-sized chunks", "[sha256]") {
  auto bytes = ibdriver::test::deterministic_bytes(5 * 1024 * 1024 + 17);
  Sha256 whole;
  whole.update(bytes);
  auto expected = whole.finish();
  Sha256 pieces;
  std::size_t offset = 0;
  for (std::size_t step = 1; offset < bytes.size(); step = step * 7 % 65521 + 1) {
    auto size = std::min(step, bytes.size() - offset);
    pieces.update(bytes.data() + offset, size);
    offset += size;
  }
  CHECK(pieces.finish() == expected);
  // finish() resets: the object hashes a new stream.
  pieces.update("abc");
  CHECK(pieces.finish() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
