#pragma once
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <curl/curl.h>

namespace ibdriver::net {

// One GET of a small document held in memory (IMDS answers, the signed catalog; not driver bundles).
struct SmallGetRequest {
  std::string url;
  std::vector<std::string> headers;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds total_timeout{5000};
  std::size_t max_body_bytes = 1024 * 1024;
  bool use_proxy = true;    // false: no proxy whatever the environment says (IMDS)
  bool https_only = false;  // the URL and every redirect must be https:// (else http:// too)
  long max_redirects = 0;   // 0: a redirect is the answer, not followed
  std::optional<std::string> ca_bundle;                // replaces the system's CA store
  std::optional<std::filesystem::path> extra_ca;       // trusted besides the system's CA store (net/extra_ca.hpp)
};

struct SmallGetResult {
  CURLcode curl_code = CURLE_OK;
  std::string curl_message;  // set when curl_code != CURLE_OK
  long http_status = 0;
  std::string body;
  bool body_too_large = false;
  bool transport_ok() const { return curl_code == CURLE_OK; }
};

// Never throws for network failures: the caller decides what they mean and whether to retry.
SmallGetResult small_get(const SmallGetRequest& request);

// Whether a transfer that ended this way is worth another try (resets, timeouts, 5xx, 429);
// never for TLS verification failures, 4xx or bad URLs.
bool is_retryable(CURLcode code);
bool is_retryable_status(long http_status);

}  // namespace ibdriver::net
