#include "platform/imds.hpp"

#include <random>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "net/small_get.hpp"

namespace ibdriver::platform {

namespace {

constexpr const char* imds_hint = "IMDS answers only inside an Azure VM; elsewhere skip the VM-size check (or point at a test IMDS)";
Remedies imds_remedies() { return {{Knob::skip_vm_size_check, {}}, {Knob::imds_url, {}}}; }

std::string string_field(const nlohmann::json& object, const char* key) {
  auto found = object.find(key);
  if (found == object.end() || !found->is_string()) return {};
  return found->get<std::string>();
}

}  // namespace

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
  request.url = options.url;
  request.headers = {"Metadata: true"};
  request.connect_timeout = options.connect_timeout;
  request.total_timeout = options.attempt_timeout;
  request.max_body_bytes = 256 * 1024;
  request.use_proxy = false;  // IMDS is link-local: a proxy cannot reach it

  auto shown_url = text::redact_url(options.url);
  std::minstd_rand jitter(std::random_device{}());
  auto backoff = options.first_backoff;
  std::string last_failure;
  const int attempts = std::max(1, options.attempts);
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    auto result = net::small_get(request);
    bool retryable = false;
    if (!result.transport_ok()) {
      if (result.body_too_large) {
        last_failure = fmt::format("IMDS at {} answered more than {} bytes", shown_url, request.max_body_bytes);
      } else {
        last_failure = fmt::format("IMDS at {} is unreachable: {}", shown_url, result.curl_message);
        retryable = net::is_retryable(result.curl_code);
      }
    } else if (result.http_status != 200) {
      last_failure = fmt::format("IMDS at {} answered HTTP {}", shown_url, result.http_status);
      retryable = net::is_retryable_status(result.http_status);
    } else {
      return parse_imds_compute(result.body, options.url);
    }
    if (!retryable || attempt == attempts) break;
    log::debug(fmt::format("{} (attempt {} of {}); retrying", last_failure, attempt, attempts));
    auto wait = backoff + std::chrono::milliseconds(jitter() % (backoff.count() / 2 + 1));
    std::this_thread::sleep_for(wait);
    backoff *= 2;
  }
  throw Error(ExitCode::vm_size_not_supported, last_failure, imds_hint, imds_remedies());
}

}  // namespace ibdriver::platform
