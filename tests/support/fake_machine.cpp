#include "support/fake_machine.hpp"

#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

namespace ibdriver::test {

namespace fs = std::filesystem;

FakeMachine::FakeMachine(fs::path root) : root_(std::move(root)) { fs::create_directories(root_); }

void FakeMachine::write(std::string_view relative, std::string_view content) const {
  fs::path file = root_ / fs::path(relative);
  fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

void FakeMachine::os_release(std::string_view content) const { write("etc/os-release", content); }

void FakeMachine::os_release_fixture(std::string_view name) const {
  fs::path source = fs::path(IBDRIVER_TEST_FIXTURES) / "os-release" / fs::path(name);
  std::ifstream in(source, std::ios::binary);
  if (!in) throw std::runtime_error("no os-release fixture " + source.string());
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  os_release(content);
}

void FakeMachine::vmbus(int devices) const {
  fs::create_directories(root_ / "sys/bus/vmbus/devices");
  for (int i = 0; i < devices; ++i) {
    // Real entries are links named by the device GUID into sys/devices/.../VMBUS:00.
    auto guid = fmt::format("{:08x}-3f73-4f28-9c5c-{:012x}", 0x4487b255 + i, 0x1d2b3c4d5e6fULL + static_cast<unsigned>(i));
    fs::path target = root_ / "sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/VMBUS:00" / guid;
    fs::create_directories(target);
    write(fmt::format("sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/VMBUS:00/{}/class_id", guid),
          "{f8615163-df3e-46c5-913f-f2d2f965ed0e}\n");
    fs::path link = root_ / "sys/bus/vmbus/devices" / guid;
    if (!fs::exists(fs::symlink_status(link))) {
      fs::create_symlink(fmt::format("../../../devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/VMBUS:00/{}", guid), link);
    }
  }
}

void FakeMachine::dmi(std::string_view vendor, std::string_view product) const {
  write("sys/class/dmi/id/sys_vendor", fmt::format("{}\n", vendor));
  write("sys/class/dmi/id/product_name", fmt::format("{}\n", product));
}

void FakeMachine::pci_device(std::string_view address, std::uint16_t vendor, std::uint16_t device,
                             std::uint32_t class_code, std::optional<std::string_view> link_layer) const {
  // On Azure the VFs hang off a Hyper-V PCI bridge; the bus link points into sys/devices.
  auto device_dir = fmt::format("sys/devices/pci{}/{}", address.substr(0, 7), address);
  write(device_dir + "/vendor", fmt::format("0x{:04x}\n", vendor));
  write(device_dir + "/device", fmt::format("0x{:04x}\n", device));
  write(device_dir + "/class", fmt::format("0x{:06x}\n", class_code));
  if (link_layer) write(device_dir + "/infiniband/mlx5_0/ports/1/link_layer", fmt::format("{}\n", *link_layer));
  fs::create_directories(root_ / "sys/bus/pci/devices");
  fs::path link = root_ / "sys/bus/pci/devices" / fs::path(address);
  if (!fs::exists(fs::symlink_status(link))) fs::create_symlink(fmt::format("../../../{}", device_dir.substr(4)), link);
}

void FakeMachine::kernel(std::string_view release, bool headers) const {
  write(fmt::format("lib/modules/{}/modules.dep", release), "");
  if (!headers) return;
  write(fmt::format("usr/src/linux-headers-{}/Makefile", release), "# kernel headers\n");
  fs::path link = root_ / fmt::format("lib/modules/{}/build", release);
  if (!fs::exists(fs::symlink_status(link))) fs::create_symlink(fmt::format("/usr/src/linux-headers-{}", release), link);
}

void FakeMachine::running_kernel(std::string_view release) const {
  write("proc/sys/kernel/osrelease", fmt::format("{}\n", release));
}

void FakeMachine::arch(std::string_view machine) const { write("proc/sys/kernel/arch", fmt::format("{}\n", machine)); }

void FakeMachine::secure_boot(bool enabled) const {
  std::string variable("\x06\x00\x00\x00", 4);
  variable += enabled ? '\x01' : '\x00';
  write("sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c", variable);
}

namespace {
constexpr std::uint16_t mellanox = 0x15b3;
constexpr std::uint32_t infiniband_class = 0x020700;
constexpr std::uint32_t ethernet_class = 0x020000;

void azure_basics(const FakeMachine& machine) {
  machine.vmbus(6);
  machine.dmi("Microsoft Corporation", "Virtual Machine");
  machine.kernel("5.15.0-1051-azure", true);
  machine.kernel("5.15.0-1073-azure", true);
  machine.kernel("5.15.0-1040-azure", false);
  machine.running_kernel("5.15.0-1073-azure");
  machine.write("etc/waagent.conf", "# Microsoft Azure Linux Agent Configuration\nOS.EnableRDMA=n\nLogs.Verbose=n\n");
  fs::create_directories(machine.root() / "etc/modules-load.d");
  fs::create_directories(machine.root() / "sys/firmware/efi/efivars");
}
}  // namespace

void populate_profile(const FakeMachine& machine, std::string_view profile) {
  if (profile == "hb120rs_v3") {
    azure_basics(machine);
    machine.pci_device("0101:00:00.0", mellanox, 0x101c, infiniband_class);  // ConnectX-6 VF
    machine.pci_device("c3a5:00:02.0", mellanox, 0x1016, ethernet_class);    // Accelerated Networking
  } else if (profile == "nd96isr_h100_v5") {
    azure_basics(machine);
    for (int i = 1; i <= 8; ++i) machine.pci_device(fmt::format("010{}:00:00.0", i), mellanox, 0x101e, infiniband_class);
    machine.pci_device("9c42:00:02.0", mellanox, 0x101a, ethernet_class);  // Accelerated Networking (CX-5 Ex VF)
  } else if (profile == "nd128isr_gb200_v6" || profile == "nd128isr_gb300_v6") {
    // Grace (Arm) with four InfiniBand NICs: ConnectX-7 on GB200, ConnectX-8 on GB300
    // (azure-images-2026.md, "VM sizes"); Ubuntu 24.04's Azure kernel for arm64.
    machine.vmbus(6);
    machine.dmi("Microsoft Corporation", "Virtual Machine");
    machine.arch("aarch64");
    machine.kernel("6.8.0-1025-azure", true);
    machine.running_kernel("6.8.0-1025-azure");
    machine.write("etc/waagent.conf", "# Microsoft Azure Linux Agent Configuration\nOS.EnableRDMA=n\nLogs.Verbose=n\n");
    fs::create_directories(machine.root() / "etc/modules-load.d");
    fs::create_directories(machine.root() / "sys/firmware/efi/efivars");
    const std::uint16_t device = profile == "nd128isr_gb200_v6" ? 0x1021 : 0x1023;
    for (int i = 1; i <= 4; ++i) machine.pci_device(fmt::format("010{}:00:00.0", i), mellanox, device, infiniband_class);
  } else if (profile == "d8s_v5") {
    azure_basics(machine);
    machine.pci_device("7e2a:00:02.0", mellanox, 0x1016, ethernet_class);
  } else if (profile == "no_vmbus") {
    machine.dmi("QEMU", "Standard PC (Q35 + ICH9, 2009)");
    machine.kernel("6.1.0-27-amd64", true);
    machine.running_kernel("6.1.0-27-amd64");
    machine.pci_device("0000:03:00.0", mellanox, 0x101b, infiniband_class);
  } else {
    throw std::runtime_error(fmt::format("unknown fake machine profile {}", profile));
  }
}

std::string profile_vm_size(std::string_view profile) {
  if (profile == "hb120rs_v3") return "Standard_HB120rs_v3";
  if (profile == "nd96isr_h100_v5") return "Standard_ND96isr_H100_v5";
  if (profile == "d8s_v5") return "Standard_D8s_v5";
  if (profile == "nd128isr_gb200_v6") return "Standard_ND128isr_NDR_GB200_v6";
  if (profile == "nd128isr_gb300_v6") return "Standard_ND128isr_GB300_v6";
  return "";
}

}  // namespace ibdriver::test
