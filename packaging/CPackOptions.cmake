# Read by cpack once per generator (CPACK_PROJECT_CONFIG_FILE): each format gets the common files and
# its own (Debian's doc folder and /lib/systemd, RPM's license folder and /usr/lib/systemd); the
# zip gets its own component alone.
if(CPACK_GENERATOR STREQUAL "DEB")
  set(CPACK_COMPONENTS_ALL common deb)
elseif(CPACK_GENERATOR STREQUAL "RPM")
  set(CPACK_COMPONENTS_ALL common rpm)
elseif(CPACK_GENERATOR STREQUAL "ZIP")
  # The extension zip (portable build): its own files only, under the extension's name.
  set(CPACK_COMPONENTS_ALL zip)
  set(CPACK_ARCHIVE_FILE_NAME ${CPACK_IBDRIVER_ZIP_NAME})
endif()
