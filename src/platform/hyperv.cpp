#include "platform/hyperv.hpp"

#include <system_error>

#include "core/files.hpp"
#include "core/text.hpp"

namespace ibdriver::platform {

namespace {
std::string read_dmi(const SystemRoot& root, const char* name) {
  try {
    auto value = read_file_if_exists(root.sysfs_path(std::string("class/dmi/id/") + name), 4096);
    return value ? text::printable(text::trim(*value), 120) : std::string();
  } catch (const std::exception&) {
    return {};  // DMI is informative only
  }
}
}  // namespace

HyperV detect_hyperv(const SystemRoot& root) {
  HyperV hyperv;
  std::error_code error;
  std::filesystem::directory_iterator devices(root.sysfs_path("bus/vmbus/devices"), error);
  if (!error) {
    for ([[maybe_unused]] const auto& device : devices) ++hyperv.vmbus_devices;
  }
  hyperv.vmbus = hyperv.vmbus_devices > 0;
  hyperv.sys_vendor = read_dmi(root, "sys_vendor");
  hyperv.product_name = read_dmi(root, "product_name");
  return hyperv;
}

}  // namespace ibdriver::platform
