# The portable build (IBDRIVER_PORTABLE=ON): one binary for the extension zip and the published .deb
# and .rpm (ibdriver_<ver>-<rel>_amd64.deb, ibdriver-<ver>-<rel>.x86_64.rpm and their aarch64 twins),
# which run on every distro from RHEL/CentOS 7 (glibc 2.17) on, before any driver exists. It needs
# nothing from the system but glibc: curl, OpenSSL, libarchive and its compressors, ISA-L (built static
# from Debian 11's source by ci/portable: Debian ships it shared only), libstdc++ and libgcc are linked
# statically, and glibc's getentropy is defined in the binary (src/portable/getentropy.cpp).
# libibverbs is never linked (it is loaded with dlopen when needed).
# ci/portable builds it in a Debian 11 root (GCC 10, OpenSSL 1.1.1, glibc 2.31) and checks the glibc floor.
# Included before the dependencies are found: it decides what find_library and pkg-config return.
option(IBDRIVER_PORTABLE "Build the self-contained binary of the extension zip and the published packages" OFF)
if(NOT IBDRIVER_PORTABLE)
  return()
endif()

# The oldest glibc the binary runs on: one place, the launcher (packaging/extension/ibdriver-launcher),
# which refuses older ones; ci/portable-check measures the binary against it (objdump -T) and the .deb's
# libc6 dependency is made from it.
file(STRINGS ${PROJECT_SOURCE_DIR}/packaging/extension/ibdriver-launcher IBDRIVER_GLIBC_FLOOR
     REGEX "^glibc_floor=[0-9.]+$")
string(REPLACE "glibc_floor=" "" IBDRIVER_GLIBC_FLOOR "${IBDRIVER_GLIBC_FLOOR}")
if(NOT IBDRIVER_GLIBC_FLOOR MATCHES "^[0-9]+\\.[0-9]+$")
  message(FATAL_ERROR "packaging/extension/ibdriver-launcher has no line glibc_floor=<version>")
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/packaging/extension/ibdriver-launcher)
if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|aarch64)$")
  message(FATAL_ERROR "the portable build is for x86_64 and aarch64, not ${CMAKE_SYSTEM_PROCESSOR}")
endif()

# Everything found from here on is a static archive.
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
set(OPENSSL_USE_STATIC_LIBS TRUE)
add_link_options(-static-libstdc++ -static-libgcc)

# Debian 11's fmt is a shared library only: use it header-only. Defining both of fmt's targets first
# makes its package configuration keep them.
add_library(fmt::fmt-header-only INTERFACE IMPORTED)
set_target_properties(fmt::fmt-header-only PROPERTIES INTERFACE_COMPILE_DEFINITIONS FMT_HEADER_ONLY=1)
add_library(fmt::fmt INTERFACE IMPORTED)
set_target_properties(fmt::fmt PROPERTIES INTERFACE_LINK_LIBRARIES fmt::fmt-header-only)

# The static archives a pkg-config module's static archive needs (its Libs.private), glibc's own left
# to the dynamic linker. Called after the modules were found.
function(ibdriver_link_private_archives target)
  set(glibc_libraries c m dl pthread rt resolv)
  foreach(name IN LISTS ARGN)
    if(name IN_LIST glibc_libraries)
      continue()
    endif()
    find_library(IBDRIVER_STATIC_${name} NAMES lib${name}.a)
    if(IBDRIVER_STATIC_${name})
      set_property(TARGET ${target} APPEND PROPERTY INTERFACE_LINK_LIBRARIES ${IBDRIVER_STATIC_${name}})
    endif()
  endforeach()
  set_property(TARGET ${target} APPEND PROPERTY INTERFACE_LINK_LIBRARIES ${CMAKE_DL_LIBS} Threads::Threads)
endfunction()
