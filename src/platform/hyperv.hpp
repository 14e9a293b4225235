#pragma once
#include <string>

#include "core/system_root.hpp"

namespace ibdriver::platform {

struct HyperV {
  bool vmbus = false;       // <sysfs>/bus/vmbus/devices has at least one device
  int vmbus_devices = 0;
  std::string sys_vendor;   // DMI, "Microsoft Corporation" on Azure
  std::string product_name; // DMI, "Virtual Machine" on Azure
};

HyperV detect_hyperv(const SystemRoot& root);

}  // namespace ibdriver::platform
