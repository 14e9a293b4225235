# What `cpack` ships, all versions derived from the CMake project version (the one place it is set):
#   - the distro packages (default build): ibdriver_<ver>-<rel>_amd64.deb and ibdriver-<ver>-<rel>.x86_64.rpm
#     with the binary in /usr/sbin linked to the distro's shared libraries, ibdriver(8), bash completion,
#     copyright, changelog and the boot-time systemd unit when packaging/systemd has it;
#   - the extension zip (IBDRIVER_PORTABLE=ON, cmake/IbdriverPortable.cmake):
#     Microsoft.HpcCompute.InfiniBandDriverLinux-<extension version>-<x86_64|aarch64>.zip, one per
#     architecture (the agent names the extension's folder from the handler's name and version, never
#     from the file's name: the publisher uploads each zip for its machines).
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
  install(FILES ${IBDRIVER_PACKAGING_DIR}/extension/HandlerManifest.json DESTINATION .)
  install(PROGRAMS ${IBDRIVER_PACKAGING_DIR}/extension/ibdriver-launcher DESTINATION bin)
  if(ISAL_LIBRARY)
    # The real file under its soname (libisal.so.2), the name the binary asks for.
    get_filename_component(isal_real ${ISAL_LIBRARY} REALPATH)
    execute_process(COMMAND objdump -p ${isal_real} OUTPUT_VARIABLE isal_dynamic)
    string(REGEX MATCH "SONAME +([^\n]+)" _ "${isal_dynamic}")
    install(FILES ${isal_real} DESTINATION lib RENAME ${CMAKE_MATCH_1}
            PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  endif()
  ibdriver_link_private_archives(PkgConfig::CURL ${CURL_STATIC_LIBRARIES})
  ibdriver_link_private_archives(PkgConfig::LIBARCHIVE ${LIBARCHIVE_STATIC_LIBRARIES})
  set(CPACK_GENERATOR ZIP)
  set(CPACK_INCLUDE_TOPLEVEL_DIRECTORY OFF)
  set(CPACK_PACKAGE_FILE_NAME ${IBDRIVER_EXTENSION_NAME}-${IBDRIVER_EXTENSION_VERSION}-${CMAKE_SYSTEM_PROCESSOR})
  include(CPack)
  return()
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
install(FILES ${IBDRIVER_PACKAGING_DIR}/debian/lintian-overrides DESTINATION share/lintian/overrides
        RENAME ibdriver COMPONENT deb)
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

set(CPACK_GENERATOR DEB RPM)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "InfiniBand drivers for Azure HPC virtual machines")
set(CPACK_PACKAGE_DESCRIPTION_FILE ${IBDRIVER_PACKAGING_DIR}/description.txt)
set(CPACK_RESOURCE_FILE_LICENSE ${IBDRIVER_PACKAGING_DIR}/debian/copyright)
# One package per format, holding "common" and that format's own component (packaging/CPackOptions.cmake).
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_RPM_COMPONENT_INSTALL ON)
set(CPACK_PROJECT_CONFIG_FILE ${IBDRIVER_PACKAGING_DIR}/CPackOptions.cmake)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${IBDRIVER_PACKAGE_RELEASE})
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${maintainer_scripts}/postinst ${maintainer_scripts}/postrm)

set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_RELEASE ${IBDRIVER_PACKAGE_RELEASE})
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
set(CPACK_RPM_SPEC_MORE_DEFINE "%define _build_id_links none\n%define packager ${IBDRIVER_PACKAGE_MAINTAINER}")

include(CPack)
cpack_add_component(common)
cpack_add_component(deb)
cpack_add_component(rpm)
