// Any bytes as a downloaded channel catalog and its signature: refused (exit 14) or accepted, never a
// crash; the first byte splits the input into the document and the signature.
#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <string_view>

#include "catalog/catalog.hpp"
#include "catalog/channel.hpp"
#include "catalog/signature.hpp"
#include "core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto split = std::min<std::size_t>(data[0], bytes.size());
  auto signature = bytes.substr(0, split);
  auto document = bytes.substr(split);
  try {
    (void)ibdriver::catalog::parse_catalog(document, "fuzz", ibdriver::catalog::CatalogSource::channel);
  } catch (const ibdriver::Error&) {
  }
  try {
    (void)ibdriver::catalog::accept_channel(document, signature, ibdriver::catalog::built_in_catalog_keys(), std::nullopt, "fuzz");
  } catch (const ibdriver::Error&) {
  }
  return 0;
}
