# What `cpack` ships, all versions derived from the CMake project version (the one place it is set):
#   - the portable build (IBDRIVER_PORTABLE=ON, cmake/IbdriverPortable.cmake; ci/portable makes them for
#     x86_64 and aarch64): the published packages ibdriver_<ver>-<rel>_<amd64|arm64>.deb and
#     ibdriver-<ver>-<rel>.<x86_64|aarch64>.rpm, which need only glibc and the shell, and the extension
#     zip Microsoft.HpcCompute.InfiniBandDriverLinux-<extension version>-<x86_64|aarch64>.zip, one per
#     architecture (the agent names the extension's folder from the handler's name and version, never
#     from the file's name: the publisher uploads each zip for its machines);
#   - a distro-native build (the default; distros/*/Dockerfile): the .deb and .rpm linked to that
#     distro's shared libraries, their release carrying the distro (1+deb12, 1.el9), so their names
#     never collide with the published ones.
# The .deb and .rpm hold the binary in /usr/sbin, ibdriver(8), bash completion, copyright, changelog
# and the boot-time systemd unit when packaging/systemd has it.
set(IBDRIVER_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)

# Azure extension versions have four numbers: the project version, then its tweak (0 when unset).
if(PROJECT_VERSION_TWEAK)
  set(IBDRIVER_EXTENSION_VERSION ${PROJECT_VERSION})
else()
  set(IBDRIVER_EXTENSION_VERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}.${PROJECT_VERSION_PATCH}.0)
endif()
set(IBDRIVER_EXTENSION_NAME Microsoft.HpcCompute.InfiniBandDriverLinux)
set(IBDRIVER_PACKAGE_RELEASE 1 CACHE STRING "Release number of the .deb and .rpm (their -N)")
set(IBDRIVER_PACKAGE_MAINTAINER "ibdriver maintainers <ibdriver@users.noreply.github.com>"
    CACHE STRING "Maintainer of the .deb and packager of the .rpm")

set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_PACKAGE_NAME ibdriver)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "ibdriver")
set(CPACK_PACKAGE_CONTACT ${IBDRIVER_PACKAGE_MAINTAINER})
set(CPACK_STRIP_FILES TRUE)
set(CPACK_SOURCE_IGNORE_FILES "/build.*/;/\\\\.git/")

if(IBDRIVER_PORTABLE)
  # The zip's own component: bin/ibdriver, bin/ibdriver-launcher, HandlerManifest.json.
  install(FILES ${IBDRIVER_PACKAGING_DIR}/extension/HandlerManifest.json DESTINATION . COMPONENT zip)
  install(PROGRAMS ${IBDRIVER_PACKAGING_DIR}/extension/ibdriver-launcher DESTINATION bin COMPONENT zip)
  install(TARGETS ibdriver RUNTIME DESTINATION bin COMPONENT zip)
  ibdriver_link_private_archives(PkgConfig::CURL ${CURL_STATIC_LIBRARIES})
  ibdriver_link_private_archives(PkgConfig::LIBARCHIVE ${LIBARCHIVE_STATIC_LIBRARIES})
endif()

# Files every package has (component "common"), and those only one format wants.
configure_file(${IBDRIVER_PACKAGING_DIR}/man/ibdriver.8.in ${CMAKE_CURRENT_BINARY_DIR}/packaging/ibdriver.8 @ONLY)
set(man_page ${CMAKE_CURRENT_BINARY_DIR}/packaging/ibdriver.8.gz)
set(deb_changelog ${CMAKE_CURRENT_BINARY_DIR}/packaging/changelog.Debian.gz)
add_custom_command(
  OUTPUT ${man_page} ${deb_changelog}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/packaging
  # -n: no name or time stamp in the gzip header, so packages are reproducible (lintian checks it).
  COMMAND gzip -9n -c ${CMAKE_CURRENT_BINARY_DIR}/packaging/ibdriver.8 > ${man_page}
  COMMAND gzip -9n -c ${IBDRIVER_PACKAGING_DIR}/debian/changelog > ${deb_changelog}
  DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/packaging/ibdriver.8 ${IBDRIVER_PACKAGING_DIR}/debian/changelog
  COMMENT "Compressing the man page and the Debian changelog")
add_custom_target(ibdriver_package_files ALL DEPENDS ${man_page} ${deb_changelog})

install(FILES ${man_page} DESTINATION share/man/man8 COMPONENT common)
install(FILES ${IBDRIVER_PACKAGING_DIR}/bash-completion/ibdriver
        DESTINATION share/bash-completion/completions COMPONENT common)
install(FILES ${IBDRIVER_PACKAGING_DIR}/debian/copyright ${deb_changelog}
        DESTINATION share/doc/ibdriver COMPONENT deb)
# lintian's overrides, each with its reason; the published package adds those of a static binary.
set(lintian_overrides ${IBDRIVER_PACKAGING_DIR}/debian/lintian-overrides)
if(IBDRIVER_PORTABLE)
  file(READ ${IBDRIVER_PACKAGING_DIR}/debian/lintian-overrides common_overrides)
  file(READ ${IBDRIVER_PACKAGING_DIR}/debian/lintian-overrides.portable portable_overrides)
  set(lintian_overrides ${CMAKE_CURRENT_BINARY_DIR}/packaging/lintian-overrides)
  file(WRITE ${lintian_overrides} "${common_overrides}${portable_overrides}")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${IBDRIVER_PACKAGING_DIR}/debian/lintian-overrides
               ${IBDRIVER_PACKAGING_DIR}/debian/lintian-overrides.portable)
endif()
install(FILES ${lintian_overrides} DESTINATION share/lintian/overrides RENAME ibdriver COMPONENT deb)
install(FILES ${IBDRIVER_PACKAGING_DIR}/debian/copyright DESTINATION share/licenses/ibdriver
        RENAME LICENSE COMPONENT rpm)

# The boot-time repair unit, when it exists: Debian 12 keeps units in /lib, RPM distros in /usr/lib.
set(IBDRIVER_BOOT_UNIT ${IBDRIVER_PACKAGING_DIR}/systemd/ibdriver-boot.service)
if(EXISTS ${IBDRIVER_BOOT_UNIT})
  set(IBDRIVER_UNIT_NAME ibdriver-boot.service)
  install(FILES ${IBDRIVER_BOOT_UNIT} DESTINATION /lib/systemd/system COMPONENT deb)
  # Relative: under the /usr prefix (an absolute destination would make CPack mark it %config).
  install(FILES ${IBDRIVER_BOOT_UNIT} DESTINATION lib/systemd/system COMPONENT rpm)
else()
  set(IBDRIVER_UNIT_NAME "")
endif()
set(maintainer_scripts ${CMAKE_CURRENT_BINARY_DIR}/packaging/scripts)
foreach(script postinst postrm)
  configure_file(${IBDRIVER_PACKAGING_DIR}/debian/${script}.in ${maintainer_scripts}/${script} @ONLY)
endforeach()
foreach(script post preun postun)
  configure_file(${IBDRIVER_PACKAGING_DIR}/rpm/${script}.in ${maintainer_scripts}/rpm-${script} @ONLY)
endforeach()

# The distro of a native build as package releases name it (deb12, ubuntu22.04, el9, azl3, cm2,
# sle15), from the build machine's /etc/os-release (ID, VERSION_ID); empty when unknown.
function(ibdriver_distro_tag out)
  set(id "")
  set(version "")
  if(EXISTS /etc/os-release)
    file(STRINGS /etc/os-release lines REGEX "^(ID|VERSION_ID)=")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^[A-Z_]+=\"?([^\"]*)\"?$" "\\1" value "${line}")
      if(line MATCHES "^ID=")
        set(id "${value}")
      else()
        set(version "${value}")
      endif()
    endforeach()
  endif()
  string(REGEX REPLACE "\\..*" "" major "${version}")
  if(id STREQUAL "debian")
    set(tag deb${major})
  elseif(id MATCHES "^(rhel|centos|almalinux|rocky|ol)$")
    set(tag el${major})
  elseif(id STREQUAL "azurelinux")
    set(tag azl${major})
  elseif(id STREQUAL "mariner")
    set(tag cm${major})
  elseif(id MATCHES "^(sles|sled|opensuse-leap)$")
    set(tag sle${major})
  else()
    string(REGEX REPLACE "[^A-Za-z0-9.]" "" tag "${id}${version}")
  endif()
  set(${out} "${tag}" PARENT_SCOPE)
endfunction()

# The release field: the published packages (portable) carry IBDRIVER_PACKAGE_RELEASE alone; a
# distro-native build adds its distro, from the build machine's os-release (the container's).
set(IBDRIVER_DEB_RELEASE ${IBDRIVER_PACKAGE_RELEASE})
set(IBDRIVER_RPM_RELEASE ${IBDRIVER_PACKAGE_RELEASE})
if(NOT IBDRIVER_PORTABLE)
  ibdriver_distro_tag(distro_tag)
  set(IBDRIVER_DISTRO_TAG "${distro_tag}" CACHE STRING "The distro in a native build's package release (1+<tag>)")
  if(IBDRIVER_DISTRO_TAG)
    set(IBDRIVER_DEB_RELEASE ${IBDRIVER_PACKAGE_RELEASE}+${IBDRIVER_DISTRO_TAG})
    set(IBDRIVER_RPM_RELEASE ${IBDRIVER_PACKAGE_RELEASE}.${IBDRIVER_DISTRO_TAG})
  endif()
endif()

if(IBDRIVER_PORTABLE)
  set(CPACK_GENERATOR ZIP DEB RPM)
  set(CPACK_ARCHIVE_COMPONENT_INSTALL ON)
  set(CPACK_INCLUDE_TOPLEVEL_DIRECTORY OFF)
  # (CPACK_ variables reach packaging/CPackOptions.cmake, which names the zip.)
  set(CPACK_IBDRIVER_ZIP_NAME ${IBDRIVER_EXTENSION_NAME}-${IBDRIVER_EXTENSION_VERSION}-${CMAKE_SYSTEM_PROCESSOR})
  # Cross builds name the target's architecture (CPack would ask the build machine's dpkg).
  if(CMAKE_SYSTEM_PROCESSOR STREQUAL "aarch64")
    set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
  else()
    set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE amd64)
  endif()
  set(CPACK_RPM_PACKAGE_ARCHITECTURE ${CMAKE_SYSTEM_PROCESSOR})
  # Static except glibc: the C library is the only dependency (dpkg-shlibdeps cannot read another
  # architecture's binary). The shell the scripts use is essential on Debian and Ubuntu.
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6 (>= ${IBDRIVER_GLIBC_FLOOR})")
  # rpmbuild strips with the build machine's tools unless told: the target's strip for aarch64.
  if(CMAKE_STRIP)
    set(IBDRIVER_RPM_STRIP "\n%define __strip ${CMAKE_STRIP}")
  endif()
else()
  set(CPACK_GENERATOR DEB RPM)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
endif()
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "InfiniBand drivers for Azure HPC virtual machines")
set(CPACK_PACKAGE_DESCRIPTION_FILE ${IBDRIVER_PACKAGING_DIR}/description.txt)
set(CPACK_RESOURCE_FILE_LICENSE ${IBDRIVER_PACKAGING_DIR}/debian/copyright)
# One package per format, holding "common" and that format's own component (packaging/CPackOptions.cmake).
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_RPM_COMPONENT_INSTALL ON)
set(CPACK_PROJECT_CONFIG_FILE ${IBDRIVER_PACKAGING_DIR}/CPackOptions.cmake)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${IBDRIVER_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${maintainer_scripts}/postinst ${maintainer_scripts}/postrm)

set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_RELEASE ${IBDRIVER_RPM_RELEASE})
set(CPACK_RPM_PACKAGE_LICENSE MIT)
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Kernel")
set(CPACK_RPM_PACKAGE_AUTOREQ ON)
set(CPACK_RPM_PACKAGE_RELOCATABLE OFF)
set(CPACK_RPM_CHANGELOG_FILE ${IBDRIVER_PACKAGING_DIR}/rpm/changelog)
set(CPACK_RPM_POST_INSTALL_SCRIPT_FILE ${maintainer_scripts}/rpm-post)
set(CPACK_RPM_PRE_UNINSTALL_SCRIPT_FILE ${maintainer_scripts}/rpm-preun)
set(CPACK_RPM_POST_UNINSTALL_SCRIPT_FILE ${maintainer_scripts}/rpm-postun)
# Directories the filesystem package owns are not ours.
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
    /usr/sbin /usr/share/man /usr/share/man/man8 /usr/share/bash-completion
    /usr/share/bash-completion/completions /usr/share/licenses /lib /lib/systemd /lib/systemd/system
    /usr/lib/systemd /usr/lib/systemd/system)
set(CPACK_RPM_SPEC_MORE_DEFINE
    "%define _build_id_links none\n%define packager ${IBDRIVER_PACKAGE_MAINTAINER}${IBDRIVER_RPM_STRIP}")

include(CPack)
cpack_add_component(common)
cpack_add_component(deb)
cpack_add_component(rpm)
if(IBDRIVER_PORTABLE)
  cpack_add_component(zip)
endif()
