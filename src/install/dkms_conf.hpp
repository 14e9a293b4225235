#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace ibdriver::install {

// What ibdriver needs to know of one dkms.conf, read without running it. A dkms.conf is a bash
// fragment that DKMS sources (dkms(8), "DKMS.CONF"); NVIDIA's come in two shapes (the static file of
// OFED 25.10 and the one generate_dkms_conf.sh writes for every older release, knneth/mlnx-ofa_kernel),
// both plain assignments, some with a variable index (`BUILT_MODULE_NAME[$i]=...` then `let i++`).
struct DkmsConf {
  std::string name;                         // PACKAGE_NAME ("mlnx-ofed-kernel", "iser", "kernel-mft-dkms")
  std::string version;                      // PACKAGE_VERSION ("24.10.OFED.24.10.1.1.4.1")
  std::vector<std::string> built_modules;   // every BUILT_MODULE_NAME[...] value ("ib_iser"), in file order
  std::vector<std::string> build_depends;   // BUILD_DEPENDS (words of the scalar, or of every element)
  bool autoinstall = false;                 // AUTOINSTALL is non-empty (DKMS builds it for new kernels)
  std::string post_install;                 // POST_INSTALL (OFED <= 25.07: the core builds its ULPs here)
  std::string file;                         // where it was read, for messages ("iser-dkms_...deb: /usr/src/...")
};

// Parses a dkms.conf. Values may be unquoted, "double-" or 'single-quoted' (quotes removed, `$var`,
// `$(...)` and backquotes kept as text); lines that are not assignments (if/fi, let, comments) are
// skipped; a later assignment to the same key and index wins. Error (operation_failed) naming `file`
// and the line for an unterminated quote, and naming `file` and the field when PACKAGE_NAME,
// PACKAGE_VERSION or every BUILT_MODULE_NAME is missing or empty (DKMS refuses such a file too).
DkmsConf parse_dkms_conf_text(std::string_view text, const std::string& file);

}  // namespace ibdriver::install
