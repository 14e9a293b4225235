// Any bytes as a bundle's dkms.conf (read from a vendor package before anything is installed):
// parsed or refused with an ibdriver::Error, never a crash; what parses can be ordered with itself and
// with a core module, or is refused the same way.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.hpp"
#include "install/dkms_conf.hpp"
#include "install/dkms_order.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto conf = ibdriver::install::parse_dkms_conf_text(text, "fuzz/dkms.conf");
    if (conf.name.empty() || conf.version.empty() || conf.built_modules.empty()) std::abort();
    ibdriver::install::BundleDkmsModule core{{"mlnx-ofed-kernel", "1", {"mlx_compat"}, {}, true, {}, "core"}, "core", false};
    auto order = ibdriver::install::dkms_build_order({{conf, "fuzzed", true}, core}, {"x"});
    if (order.modules.size() != 2 || order.depth.size() != 2) std::abort();
    (void)ibdriver::install::install_transactions(order);
  } catch (const ibdriver::Error&) {
  }
  return 0;
}
