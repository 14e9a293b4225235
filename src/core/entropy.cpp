#include "core/entropy.hpp"

#include <cerrno>
#include <cstdint>

#include <sys/syscall.h>
#include <unistd.h>

namespace ibdriver::core {

int getentropy_syscall(void* buffer, std::size_t length) noexcept {
  constexpr std::size_t max_length = 256;  // getentropy(3): "a maximum of 256 bytes"
  if (length > max_length) {
    errno = EIO;
    return -1;
  }
  auto* next = static_cast<std::uint8_t*>(buffer);
  std::size_t left = length;
  while (left > 0) {
    const long got = syscall(SYS_getrandom, next, left, 0UL);  // flags as the long syscall() reads
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      return -1;
    }
    if (got == 0) {
      errno = EIO;
      return -1;
    }
    next += got;
    left -= static_cast<std::size_t>(got);
  }
  return 0;
}

}  // namespace ibdriver::core
