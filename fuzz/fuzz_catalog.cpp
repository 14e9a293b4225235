// Any bytes as a --catalog file: rows or exit 1, never a crash; parsed rows resolve without crashing,
// for either architecture. The same bytes as a --driver-url file name: a pinned release or exit 1.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "catalog/catalog.hpp"
#include "catalog/resolver.hpp"
#include "core/error.hpp"
#include "platform/machine_arch.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto catalog = ibdriver::catalog::parse_catalog(text, "fuzz");
    ibdriver::catalog::ResolveRequest request{"ubuntu", {"debian"}, "22.04", {}, std::nullopt, "x86_64"};
    (void)ibdriver::catalog::resolve(catalog, request);
  } catch (const ibdriver::Error&) {
  }
  try {
    ibdriver::catalog::ResolveRequest arm{"ubuntu", {}, "24.04", {}, std::nullopt, "aarch64"};
    (void)ibdriver::catalog::resolve(ibdriver::catalog::parse_catalog(text, "fuzz"), arm);
  } catch (const ibdriver::Error&) {
  }
  (void)ibdriver::platform::bundle_arch_from_name(text);
  try {
    (void)ibdriver::catalog::pinned_release("https://mirror.example/" + std::string(text), std::string(64, 'a'));
  } catch (const ibdriver::Error&) {
  }
  return 0;
}
