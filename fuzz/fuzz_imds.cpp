// Any bytes as an IMDS answer: a VM identity or exit 13, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.hpp"
#include "platform/imds.hpp"
#include "platform/vm_size.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto identity = ibdriver::platform::parse_imds_compute(text, "http://169.254.169.254/fuzz");
    (void)ibdriver::platform::classify_vm_size(identity.vm_size);
  } catch (const ibdriver::Error&) {
  }
  return 0;
}
