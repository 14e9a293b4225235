# The portable build (IBDRIVER_PORTABLE=ON): the binary of the extension zip, which runs on a VM before
# any driver exists, on every distro from RHEL 8 (glibc 2.28) on. It needs nothing from the system but
# glibc: curl, OpenSSL, libarchive and its compressors, libstdc++ and libgcc are linked statically; ISA-L
# (Debian ships no static libisal) is shipped beside it in lib/ and found through RPATH $ORIGIN/../lib.
# libibverbs is never linked (it is loaded with dlopen when needed).
# ci/portable builds it in a Debian 11 root (GCC 10, OpenSSL 1.1.1, glibc 2.31) and checks the glibc floor.
# Included before the dependencies are found: it decides what find_library and pkg-config return.
option(IBDRIVER_PORTABLE "Build the self-contained binary of the extension zip" OFF)

if(NOT IBDRIVER_PORTABLE)
  # Distro packages: an administrator's command (it changes drivers, kernels' modules, /etc) -> sbin.
  set(IBDRIVER_INSTALL_BINDIR sbin)
  return()
endif()

# The extension zip: bin/ibdriver, bin/ibdriver-launcher, lib/, HandlerManifest.json.
set(IBDRIVER_INSTALL_BINDIR bin)

# ISA-L as a shared library; everything else found from here on is a static archive.
find_library(ISAL_LIBRARY NAMES libisal.so)
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
set(OPENSSL_USE_STATIC_LIBS TRUE)
set(CMAKE_INSTALL_RPATH "\$ORIGIN/../lib")
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
