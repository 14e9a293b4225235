// Any bytes as a VM size name: a verdict, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "platform/vm_size.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)ibdriver::platform::classify_vm_size(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
