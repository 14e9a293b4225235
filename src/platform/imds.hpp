#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ibdriver::platform {

constexpr std::string_view default_imds_url =
    "http://169.254.169.254/metadata/instance/compute?api-version=2021-02-01";

struct ImdsOptions {
  std::string url{default_imds_url};
  int attempts = 3;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds attempt_timeout{5000};
  std::chrono::milliseconds first_backoff{500};
};

// What IMDS says about this VM (instance/compute).
struct VmIdentity {
  std::string vm_size;  // "Standard_HB120rs_v3"
  std::string offer;
  std::string publisher;
  std::string sku;
  std::string location;
  std::string os_type;
};

// Parses the instance/compute JSON. Throws Error (vm_size_not_supported) when it is not JSON, not an
// object, or has no non-empty string vmSize, naming the URL.
VmIdentity parse_imds_compute(std::string_view json, std::string_view url);

// Queries IMDS with header "Metadata: true", never through a proxy, with a short connect timeout and
// bounded retries (resets, timeouts, 5xx, 429). Throws Error (vm_size_not_supported) when IMDS is
// unreachable, answers an error status, or says nothing usable: the message says which.
VmIdentity query_imds(const ImdsOptions& options);

}  // namespace ibdriver::platform
