# Cross-compiling for aarch64 (Azure's GB200/GB300 Grace machines) on a Debian x86_64 machine with
# Debian's cross GCC (crossbuild-essential-arm64: arm64's glibc and libstdc++ come with it) and the arm64
# libraries unpacked into IBDRIVER_AARCH64_SYSROOT (ci/portable-root cross makes both; its .pc files'
# prefix is rewritten to the sysroot). ci/portable uses it: `IBDRIVER_ARCHES=aarch64 ci/portable`.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

if(NOT IBDRIVER_AARCH64_SYSROOT)
  message(FATAL_ERROR "give -DIBDRIVER_AARCH64_SYSROOT=DIR, the arm64 libraries' sysroot (ci/portable-root cross makes it and "
                      "writes its path into the build root's .ibdriver-cross-aarch64-sysroot)")
endif()
# try_compile projects load this file again: hand the sysroot to them too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES IBDRIVER_AARCH64_SYSROOT)
set(sysroot ${IBDRIVER_AARCH64_SYSROOT})
# The arm64 headers before the build machine's (/usr/include holds amd64's versions of the same
# libraries, and the header-only ones, CLI11 and nlohmann-json, which serve both).
set(CMAKE_CXX_FLAGS_INIT "-isystem ${sysroot}/usr/include/aarch64-linux-gnu -isystem ${sysroot}/usr/include")
set(CMAKE_C_FLAGS_INIT "${CMAKE_CXX_FLAGS_INIT}")
# Libraries only from the sysroot (and the caller's CMAKE_PREFIX_PATH, curl's static build); programs
# run at build time are the build machine's; packages' CMake files from either.
set(CMAKE_FIND_ROOT_PATH ${sysroot})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(OPENSSL_ROOT_DIR ${sysroot}/usr)
# pkg-config describes the arm64 libraries, never the build machine's (their Libs.private differ); the
# caller's PKG_CONFIG_PATH (curl's static build for arm64) comes first.
set(ENV{PKG_CONFIG_LIBDIR} ${sysroot}/usr/lib/aarch64-linux-gnu/pkgconfig:${sysroot}/usr/share/pkgconfig)
