#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/system_root.hpp"
#include "platform/connectx.hpp"

namespace ibdriver::platform {

enum class LinkKind { infiniband, ethernet, unknown };
std::string_view to_string(LinkKind kind);

// A Mellanox PCI function found under <sysfs>/bus/pci/devices.
struct MellanoxDevice {
  std::string address;  // "0101:00:00.0"
  std::uint16_t device_id = 0;
  std::uint32_t class_code = 0;  // 0x020700 InfiniBand, 0x020000 Ethernet
  std::optional<ConnectXModel> model;  // nullopt: an id ibdriver does not know
  bool virtual_function = false;
  LinkKind link = LinkKind::unknown;
  std::string link_evidence;  // why link is what it is, for the report
};

struct PciScan {
  std::vector<MellanoxDevice> mellanox;
  std::vector<std::string> ignored;  // entries skipped because their sysfs files were unreadable or garbage
  std::vector<const MellanoxDevice*> infiniband() const;
};

// Reads every <sysfs>/bus/pci/devices/*/{vendor,device,class}. The link kind comes from the loaded
// driver's port (infiniband/*/ports/*/link_layer) when there is one, else from the PCI class: an
// InfiniBand function reports class 0x0207, while Azure's Accelerated Networking VF (also Mellanox)
// is an Ethernet controller, 0x0200, and is never taken for InfiniBand. A ConnectX-3 (Pro) function
// of class 0x0280 ("Network controller") is InfiniBand too: that is how Azure's NCv3 and NDv2 sizes
// show their ConnectX-3 Pro VFs.
PciScan scan_pci(const SystemRoot& root);

}  // namespace ibdriver::platform
