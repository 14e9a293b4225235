#pragma once
#include <string_view>

namespace ibdriver::catalog {
// distros/catalog.json as it was at build time.
std::string_view embedded_catalog_json();
}  // namespace ibdriver::catalog
