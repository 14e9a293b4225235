// Any bytes as a --catalog file: rows or exit 1, never a crash; parsed rows resolve without crashing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "catalog/catalog.hpp"
#include "catalog/resolver.hpp"
#include "core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto catalog = ibdriver::catalog::parse_catalog(text, "fuzz");
    ibdriver::catalog::ResolveRequest request{"ubuntu", {"debian"}, "22.04", {}, std::nullopt, "x86_64"};
    (void)ibdriver::catalog::resolve(catalog, request);
  } catch (const ibdriver::Error&) {
  }
  return 0;
}
