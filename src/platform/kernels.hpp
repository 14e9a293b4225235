#pragma once
#include <string>
#include <vector>

#include "core/system_root.hpp"

namespace ibdriver::platform {

struct InstalledKernel {
  std::string release;  // "6.1.0-27-amd64"
  bool has_headers = false;  // lib/modules/<release>/build resolves to a folder inside the root
};

struct KernelInventory {
  std::string running;  // "" when it cannot be known (a fake root without proc/sys/kernel/osrelease)
  std::vector<InstalledKernel> installed;  // sorted by release, newest last
  std::vector<std::string> with_headers() const;
};

// The running kernel: uname(2) on the host root, <root>/proc/sys/kernel/osrelease under a fake one.
// Installed kernels: the folders of <root>/lib/modules (and usr/lib/modules).
KernelInventory detect_kernels(const SystemRoot& root);

// Orders kernel releases as "6.1.0-9-amd64" < "6.1.0-27-amd64" (numbers compare as numbers).
bool kernel_release_less(const std::string& a, const std::string& b);

}  // namespace ibdriver::platform
