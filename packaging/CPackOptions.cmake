# Read by cpack once per generator (CPACK_PROJECT_CONFIG_FILE): each format gets the common files and
# its own (Debian's doc folder and /lib/systemd, RPM's license folder and /usr/lib/systemd).
if(CPACK_GENERATOR STREQUAL "DEB")
  set(CPACK_COMPONENTS_ALL common deb)
elseif(CPACK_GENERATOR STREQUAL "RPM")
  set(CPACK_COMPONENTS_ALL common rpm)
endif()
