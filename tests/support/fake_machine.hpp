#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace ibdriver::test {

// Writes the parts of a system root that platform detection reads, shaped like the real files:
// sysfs PCI devices are links into sys/devices as on a real machine.
class FakeMachine {
 public:
  explicit FakeMachine(std::filesystem::path root);
  const std::filesystem::path& root() const { return root_; }

  void write(std::string_view relative, std::string_view content) const;  // creates parent folders
  void os_release(std::string_view content) const;                        // etc/os-release
  void os_release_fixture(std::string_view name) const;                   // from tests/fixtures/os-release
  void vmbus(int devices) const;
  void dmi(std::string_view vendor, std::string_view product) const;
  // class_code e.g. 0x020700 (InfiniBand) or 0x020000 (Ethernet).
  void pci_device(std::string_view address, std::uint16_t vendor, std::uint16_t device, std::uint32_t class_code,
                  std::optional<std::string_view> link_layer = std::nullopt) const;
  // lib/modules/<release>, with a build link to /usr/src/linux-headers-<release> (absolute, as Debian does).
  void kernel(std::string_view release, bool headers) const;
  void running_kernel(std::string_view release) const;  // proc/sys/kernel/osrelease
  void arch(std::string_view machine) const;            // proc/sys/kernel/arch (uname -m: x86_64, aarch64)
  void secure_boot(bool enabled) const;                 // efivars SecureBoot variable

 private:
  std::filesystem::path root_;
};

// The machines the tests and the simulated VM use:
//   hb120rs_v3       Standard_HB120rs_v3: one ConnectX-6 VF (InfiniBand) + an Accelerated Networking VF
//   nd96isr_h100_v5  Standard_ND96isr_H100_v5: eight ConnectX-7 generation VFs (InfiniBand) + an AN VF
//   d8s_v5           Standard_D8s_v5: only an Accelerated Networking VF (Ethernet)
//   no_vmbus         a machine without Hyper-V (no sys/bus/vmbus), with a ConnectX-6 PF
//   nd128isr_gb200_v6  Standard_ND128isr_NDR_GB200_v6: aarch64, four ConnectX-7 (InfiniBand), one kernel
//   nd128isr_gb300_v6  Standard_ND128isr_GB300_v6: aarch64, four ConnectX-8 (InfiniBand), one kernel
// Each gets VMBus (except no_vmbus), DMI, two kernels with headers and the running one.
void populate_profile(const FakeMachine& machine, std::string_view profile);
// The IMDS vmSize of a profile.
std::string profile_vm_size(std::string_view profile);

}  // namespace ibdriver::test
