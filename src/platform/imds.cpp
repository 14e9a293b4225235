#include "platform/imds.hpp"

#include <algorithm>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/cancel.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "net/small_get.hpp"

namespace ibdriver::platform {

namespace {

constexpr const char* imds_hint = "IMDS answers only inside an Azure VM; elsewhere skip the VM-size check (or point at a test IMDS)";
Remedies imds_remedies() { return {{Knob::skip_vm_size_check, {}}, {Knob::imds_url, {}}}; }
constexpr std::string_view compute_path = "/metadata/instance/compute";
constexpr std::string_view api_version = "api-version=2021-02-01";

std::string string_field(const nlohmann::json& object, const char* key) {
  auto found = object.find(key);
  if (found == object.end() || !found->is_string()) return {};
  return found->get<std::string>();
}

// IMDS says "not yet" (410 early in boot), "too many requests" (429) or has a server error.
bool busy_status(long status) { return status == 410 || status == 429 || (status >= 500 && status <= 599); }

}  // namespace

std::string imds_request_url(std::string_view url) {
  std::string result(url);
  auto scheme = result.find("://");
  auto authority_start = scheme == std::string::npos ? 0 : scheme + 3;
  auto path_start = result.find_first_of("/?#", authority_start);
  std::string query;
  if (auto question = result.find('?'); question != std::string::npos) {
    query = result.substr(question + 1);
    result.erase(question);
  }
  if (path_start == std::string::npos || path_start >= result.size() || result.substr(path_start) == "/") {
    if (path_start != std::string::npos && path_start < result.size()) result.erase(path_start);
    result += compute_path;
  }
  if (query.find("api-version=") == std::string::npos) query = query.empty() ? std::string(api_version) : fmt::format("{}&{}", query, api_version);
  return fmt::format("{}?{}", result, query);
}

VmIdentity parse_imds_compute(std::string_view json, std::string_view url) {
  auto shown_url = text::redact_url(url);
  auto document = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (document.is_discarded()) {
    throw Error(ExitCode::vm_size_not_supported,
                fmt::format("IMDS at {} answered something that is not JSON (starts with \"{}\")", shown_url,
                            text::printable(json.substr(0, 60))),
                imds_hint, imds_remedies());
  }
  if (!document.is_object()) {
    throw Error(ExitCode::vm_size_not_supported,
                fmt::format("IMDS at {} answered JSON that is not an object", shown_url), imds_hint, imds_remedies());
  }
  // /metadata/instance nests the compute facts; /metadata/instance/compute is them.
  if (auto nested = document.find("compute"); nested != document.end() && nested->is_object()) document = *nested;
  VmIdentity identity;
  identity.vm_size = string_field(document, "vmSize");
  if (identity.vm_size.empty()) {
    throw Error(ExitCode::vm_size_not_supported,
                fmt::format("IMDS at {} answered without a vmSize, so the VM size is unknown", shown_url), imds_hint, imds_remedies());
  }
  identity.offer = string_field(document, "offer");
  identity.publisher = string_field(document, "publisher");
  identity.sku = string_field(document, "sku");
  identity.location = string_field(document, "location");
  identity.os_type = string_field(document, "osType");
  return identity;
}

VmIdentity query_imds(const ImdsOptions& options) {
  net::SmallGetRequest request;
  request.url = imds_request_url(options.url);
  request.headers = {"Metadata: true"};
  request.connect_timeout = options.connect_timeout;
  request.total_timeout = options.attempt_timeout;
  request.max_body_bytes = 256 * 1024;
  request.use_proxy = false;  // IMDS is link-local: a proxy cannot reach it

  auto shown_url = text::redact_url(request.url);
  std::function<void(std::chrono::milliseconds)> sleep = options.sleep;
  if (!sleep) {
    // In slices: the extension's `disable` (SIGTERM) must not wait out a busy IMDS's whole budget.
    sleep = [](std::chrono::milliseconds wait) {
      constexpr std::chrono::milliseconds slice{100};
      for (auto left = wait; left.count() > 0; left -= slice) {
        throw_if_cancelled("waiting for IMDS");
        std::this_thread::sleep_for(std::min(left, slice));
      }
      throw_if_cancelled("waiting for IMDS");
    };
  }
  std::minstd_rand jitter(std::random_device{}());
  auto backoff = std::max(options.first_backoff, std::chrono::milliseconds(1));
  std::chrono::milliseconds waited{0};
  const auto started = std::chrono::steady_clock::now();
  std::string last_failure;
  int transport_failures = 0;
  bool busy = false;
  const int attempts = std::max(1, options.attempts);
  for (int request_number = 1;; ++request_number) {
    auto result = net::small_get(request);
    bool retryable = false;
    busy = false;
    if (!result.transport_ok()) {
      if (result.body_too_large) {
        last_failure = fmt::format("IMDS at {} answered more than {} bytes", shown_url, request.max_body_bytes);
      } else {
        last_failure = fmt::format("IMDS at {} is unreachable: {}", shown_url, result.curl_message);
        retryable = net::is_retryable(result.curl_code) && ++transport_failures < attempts;
      }
    } else if (result.http_status != 200) {
      last_failure = fmt::format("IMDS at {} answered HTTP {}", shown_url, result.http_status);
      busy = busy_status(result.http_status);
      retryable = busy;
    } else {
      return parse_imds_compute(result.body, request.url);
    }
    if (!retryable) break;
    auto wait = std::min(backoff + std::chrono::milliseconds(jitter() % (backoff.count() / 2 + 1)), options.max_backoff);
    // The budget counts both the real time spent in requests and the waits (which tests may skip).
    auto elapsed = std::max(waited, std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started));
    if (busy && elapsed + wait > options.busy_budget) {
      if (request_number > 1) {
        last_failure += fmt::format(" on every request for {} s ({} requests)", (elapsed.count() + 999) / 1000, request_number);
      }
      break;
    }
    log::debug(fmt::format("{} (request {}); asking again in {} ms", last_failure, request_number, wait.count()));
    if (options.on_wait) options.on_wait(last_failure, wait);
    sleep(wait);
    waited += wait;
    backoff = std::min(backoff * 2, options.max_backoff);
  }
  if (busy) throw ImdsBusy(ExitCode::vm_size_not_supported, last_failure, imds_hint, imds_remedies());
  throw Error(ExitCode::vm_size_not_supported, last_failure, imds_hint, imds_remedies());
}

}  // namespace ibdriver::platform
