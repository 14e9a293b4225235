#include "net/system_ca.hpp"

#include <cstdlib>

#include <unistd.h>

namespace ibdriver::net {

std::optional<std::string> system_ca_bundle(const std::function<bool(const std::string&)>& readable) {
  for (const char* variable : {"SSL_CERT_FILE", "SSL_CERT_DIR"}) {
    const char* value = std::getenv(variable);  // NOLINT(concurrency-mt-unsafe): read-only use of the environment
    if (value != nullptr && *value != '\0') return std::nullopt;
  }
  for (const char* bundle : distro_ca_bundles) {
    const bool found = readable ? readable(bundle) : ::access(bundle, R_OK) == 0;
    if (found) return std::string(bundle);
  }
  return std::nullopt;
}

}  // namespace ibdriver::net
