#pragma once
// Random bytes from the kernel, as glibc's getentropy(3) gives them, without needing glibc 2.25.
#include <cstddef>

namespace ibdriver::core {

/// Fills `buffer` with `length` bytes from the getrandom(2) system call (Linux 3.17; flags 0: blocks
/// until the kernel's pool is initialised), retrying on EINTR and on short reads: getentropy(3)'s
/// contract, after glibc's own Linux implementation (sysdeps/unix/sysv/linux/getentropy.c).
/// Returns 0, or -1 with errno: EIO when `length` is over 256 bytes (getentropy's limit) or the kernel
/// returns no bytes; ENOSYS on a kernel without getrandom (3.10: the caller falls back to
/// /dev/urandom, as OpenSSL 1.1.1 does); EFAULT for a bad buffer.
int getentropy_syscall(void* buffer, std::size_t length) noexcept;

}  // namespace ibdriver::core
