// Any bytes as /etc/os-release, or as modinfo's output: parsed or refused with an ibdriver::Error, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/error.hpp"
#include "platform/loaded_driver.hpp"
#include "platform/os_release.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto os = ibdriver::platform::parse_os_release(text, "fuzz");
    (void)os.major();
    (void)os.minor();
  } catch (const ibdriver::Error&) {
  }
  auto module = ibdriver::platform::parse_modinfo(text);
  for (const auto& name : module.depends) {
    if (name.empty()) std::abort();  // "depends:" items are trimmed and never empty
  }
  return 0;
}
