#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>

#include <catch2/catch.hpp>

#include "core/entropy.hpp"

using namespace ibdriver;

TEST_CASE("getentropy_syscall fills the buffer and keeps getentropy's 256-byte limit", "[entropy]") {
  std::array<std::uint8_t, 257> first{};
  std::array<std::uint8_t, 257> second{};
  CHECK(core::getentropy_syscall(first.data(), 0) == 0);
  CHECK(std::all_of(first.begin(), first.end(), [](auto byte) { return byte == 0; }));

  REQUIRE(core::getentropy_syscall(first.data(), 256) == 0);
  REQUIRE(core::getentropy_syscall(second.data(), 256) == 0);
  // 256 random bytes: all zero, or equal twice, happens with probability 2^-2048.
  CHECK_FALSE(std::all_of(first.begin(), first.begin() + 256, [](auto byte) { return byte == 0; }));
  CHECK_FALSE(std::equal(first.begin(), first.begin() + 256, second.begin()));
  CHECK(first[256] == 0);  // nothing past the length asked

  errno = 0;
  CHECK(core::getentropy_syscall(first.data(), 257) == -1);
  CHECK(errno == EIO);
  errno = 0;
  CHECK(core::getentropy_syscall(nullptr, 16) == -1);
  CHECK(errno == EFAULT);
}
