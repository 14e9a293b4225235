#pragma once
#include <string_view>

namespace ibdriver {

// The upstream extension's contract (DESIGN.md, "Exit codes"); kept for every entry point.
enum class ExitCode : int {
  success = 0,
  usage = 1,
  no_vmbus = 10,
  no_infiniband_device = 11,
  os_not_supported = 12,
  vm_size_not_supported = 13,
  operation_failed = 14,
};

constexpr int to_int(ExitCode code) { return static_cast<int>(code); }

// The one-line status message documented for each code.
std::string_view describe(ExitCode code);

}  // namespace ibdriver
