#pragma once
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace ibdriver::platform {

constexpr std::string_view default_imds_url =
    "http://169.254.169.254/metadata/instance/compute?api-version=2021-02-01";

struct ImdsOptions {
  std::string url{default_imds_url};
  // Transport failures (refused, reset, timed out): at most this many attempts, so a machine that
  // is not on Azure fails within a few seconds.
  int attempts = 3;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds attempt_timeout{5000};
  std::chrono::milliseconds first_backoff{500};
  std::chrono::milliseconds max_backoff{8000};
  // While IMDS answers 410 (it does early in boot), 429 or 5xx, it is asked again with backoff until
  // this much time has passed since the first request. Azure's IMDS documentation says to retry 410
  // for up to 70 s; 80 s leaves room for the last attempt's own timeout (at most 80 + 5 s in all).
  std::chrono::milliseconds busy_budget{80000};
  // How a wait is spent (tests may record it instead); std::this_thread::sleep_for by default.
  std::function<void(std::chrono::milliseconds)> sleep;
  // Told before each wait: what the last request got ("IMDS at URL answered HTTP 410") and how long
  // until the next one. The extension's worker shows it in its status while IMDS is not ready.
  std::function<void(const std::string& last_failure, std::chrono::milliseconds wait)> on_wait;
};

// IMDS answered 410, 429 or 5xx on every request until the busy budget ran out (exit 13): it is there
// but not ready, so a longer wait may pass where a refused connection or a 404 would not.
class ImdsBusy : public Error {
 public:
  using Error::Error;
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

// The URL to ask: a base URL without a path ("http://HOST:PORT") gets the standard
// /metadata/instance/compute path, and a URL without api-version gets Azure's 2021-02-01.
std::string imds_request_url(std::string_view url);

// Parses the instance/compute JSON, or the whole instance document (compute nested under
// "compute"). Throws Error (vm_size_not_supported) when it is not JSON, not an object, or has no
// non-empty string vmSize, naming the URL.
VmIdentity parse_imds_compute(std::string_view json, std::string_view url);

// Queries IMDS with header "Metadata: true", never through a proxy, with a short connect timeout.
// Transport failures are retried options.attempts times; 410, 429 and 5xx answers until
// options.busy_budget has passed (0: one busy answer ends it). Throws ImdsBusy when the budget ran out
// on busy answers, Error (vm_size_not_supported) when IMDS is unreachable, answers another error
// status, or says nothing usable: the message says which.
VmIdentity query_imds(const ImdsOptions& options);

}  // namespace ibdriver::platform
