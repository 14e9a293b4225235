// Built into the portable binary only (cmake/IbdriverPortable.cmake). OpenSSL 1.1.1, linked statically,
// declares glibc's getentropy weak and calls it when present; linked against glibc 2.31 the reference
// still carries a hard version need on GLIBC_2.25, so the binary would not load on glibc 2.17-2.24
// (RHEL/CentOS 7). Defined here, it binds inside the binary and the need is gone. On a kernel without
// getrandom it fails with ENOSYS, and OpenSSL goes on to the system call and then /dev/urandom itself
// (crypto/rand/rand_unix.c, syscall_random and rand_pool_acquire_entropy).
// No <unistd.h> here: it declares glibc's own getentropy.
#include <cstddef>

#include "core/entropy.hpp"

extern "C" int getentropy(void* buffer, std::size_t length) {
  return ibdriver::core::getentropy_syscall(buffer, length);
}
