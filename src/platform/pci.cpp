#include "platform/pci.hpp"

#include <algorithm>
#include <system_error>

#include <fmt/format.h>

#include "core/files.hpp"
#include "core/text.hpp"

namespace ibdriver::platform {

namespace fs = std::filesystem;

std::string_view to_string(LinkKind kind) {
  switch (kind) {
    case LinkKind::infiniband: return "infiniband";
    case LinkKind::ethernet: return "ethernet";
    case LinkKind::unknown: return "unknown";
  }
  return "unknown";
}

std::vector<const MellanoxDevice*> PciScan::infiniband() const {
  std::vector<const MellanoxDevice*> found;
  for (const auto& device : mellanox) {
    if (device.link == LinkKind::infiniband) found.push_back(&device);
  }
  return found;
}

namespace {

constexpr std::size_t max_attribute_bytes = 4096;

// A sysfs attribute that must hold one hex number; the reason it does not, otherwise.
std::optional<unsigned long> read_hex_attribute(const fs::path& file, std::string& problem) {
  try {
    auto content = read_file_if_exists(file, max_attribute_bytes);
    if (!content) {
      problem = fmt::format("{} is missing", file.filename().string());
      return std::nullopt;
    }
    auto value = text::parse_hex(*content);
    if (!value) problem = fmt::format("{} holds \"{}\", not a hex number", file.filename().string(), text::printable(text::trim(*content), 40));
    return value;
  } catch (const std::exception& error) {
    problem = error.what();
    return std::nullopt;
  }
}

// The loaded driver's view, when there is one: <device>/infiniband/<ibdev>/ports/<n>/link_layer.
std::optional<LinkKind> link_from_driver(const fs::path& device, std::string& evidence) {
  std::error_code error;
  fs::directory_iterator ib_devices(device / "infiniband", error);
  if (error) return std::nullopt;
  for (const auto& ib_device : ib_devices) {
    fs::directory_iterator ports(ib_device.path() / "ports", error);
    if (error) continue;
    for (const auto& port : ports) {
      std::optional<std::string> layer;
      try {
        layer = read_file_if_exists(port.path() / "link_layer", max_attribute_bytes);
      } catch (const std::exception&) {
        continue;
      }
      if (!layer) continue;
      auto value = text::trim(*layer);
      evidence = fmt::format("{} port {} link_layer is {}", ib_device.path().filename().string(),
                             port.path().filename().string(), text::printable(value, 40));
      if (text::iequals(value, "InfiniBand")) return LinkKind::infiniband;
      if (text::iequals(value, "Ethernet")) return LinkKind::ethernet;
    }
  }
  return std::nullopt;
}

bool is_connectx3(ConnectXGeneration generation) {
  return generation == ConnectXGeneration::connectx3 || generation == ConnectXGeneration::connectx3_pro;
}

}  // namespace

PciScan scan_pci(const SystemRoot& root) {
  PciScan scan;
  std::error_code error;
  fs::directory_iterator entries(root.sysfs_path("bus/pci/devices"), error);
  if (error) return scan;
  std::vector<fs::path> devices;
  for (const auto& entry : entries) devices.push_back(entry.path());
  std::sort(devices.begin(), devices.end());

  for (const auto& device : devices) {
    std::string address = device.filename().string();
    std::string problem;
    auto vendor = read_hex_attribute(device / "vendor", problem);
    if (!vendor) {
      scan.ignored.push_back(fmt::format("{}: {}", address, problem));
      continue;
    }
    if (*vendor != mellanox_vendor_id) continue;
    auto device_id = read_hex_attribute(device / "device", problem);
    auto class_code = device_id ? read_hex_attribute(device / "class", problem) : std::nullopt;
    if (!device_id || !class_code || *device_id > 0xffff || *class_code > 0xffffff) {
      scan.ignored.push_back(fmt::format("{}: Mellanox device with unusable sysfs entries: {}", address,
                                         problem.empty() ? "value out of range" : problem));
      continue;
    }
    MellanoxDevice found;
    found.address = address;
    found.device_id = static_cast<std::uint16_t>(*device_id);
    found.class_code = static_cast<std::uint32_t>(*class_code);
    found.model = connectx_model(found.device_id);
    found.virtual_function = (found.model && found.model->virtual_function) || fs::exists(device / "physfn", error);
    if (auto link = link_from_driver(device, found.link_evidence)) {
      found.link = *link;
    } else if ((found.class_code >> 8) == 0x0207) {
      found.link = LinkKind::infiniband;
      found.link_evidence = fmt::format("PCI class 0x{:06x} (InfiniBand controller)", found.class_code);
    } else if ((found.class_code >> 8) == 0x0280 && found.model && is_connectx3(found.model->generation)) {
      // Azure's NCv3 and NDv2 sizes show their ConnectX-3 Pro VFs as "Network controller" (0x0280);
      // mlx4 VFs there carry InfiniBand (reference: azure-images-2026.md, VM sizes).
      found.link = LinkKind::infiniband;
      found.link_evidence = fmt::format("PCI class 0x{:06x} (Network controller), a {}: Azure exposes its InfiniBand VFs so",
                                        found.class_code, found.model->name);
    } else if ((found.class_code >> 8) == 0x0200) {
      found.link = LinkKind::ethernet;
      found.link_evidence = fmt::format("PCI class 0x{:06x} (Ethernet controller)", found.class_code);
    } else {
      found.link_evidence = fmt::format("PCI class 0x{:06x} is neither InfiniBand nor Ethernet", found.class_code);
    }
    scan.mellanox.push_back(std::move(found));
  }
  return scan;
}

}  // namespace ibdriver::platform
