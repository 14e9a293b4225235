#include "pipeline/catalog_update.hpp"

#include <fmt/format.h>

#include "catalog/channel.hpp"
#include "catalog/signature.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "net/extra_ca.hpp"
#include "net/small_get.hpp"

namespace ibdriver::pipeline {

namespace {

constexpr std::size_t max_catalog_bytes = 16 * 1024 * 1024;
constexpr std::size_t max_signature_bytes = 64 * 1024;
constexpr long max_redirects = 5;

// One small file, whole, into memory.
std::string get(const std::string& url, std::size_t limit, const CatalogUpdateOptions& options) {
  const auto shown = text::redact_url(url);
  if (url.rfind("file://", 0) == 0) {
    try {
      return read_file(url.substr(7), limit);
    } catch (const Error& error) {
      throw Error(ExitCode::operation_failed, fmt::format("cannot read {}: {}", shown, error.what()),
                  "check the path of the catalog copy and that its .sig lies beside it");
    }
  }
  net::SmallGetRequest request;
  request.url = url;
  request.connect_timeout = options.connect_timeout;
  request.total_timeout = options.total_timeout;
  request.max_body_bytes = limit;
  request.https_only = true;
  request.max_redirects = max_redirects;
  if (options.ca_bundle) request.extra_ca = *options.ca_bundle;
  auto answer = net::small_get(request);
  if (answer.body_too_large) {
    throw Error(ExitCode::operation_failed, fmt::format("{} is larger than {} bytes: not a catalog", shown, limit));
  }
  if (!answer.transport_ok()) {
    throw Error(ExitCode::operation_failed, fmt::format("cannot download {}: {}", shown, answer.curl_message),
                "check the URL and the network; a private CA can be added as a CA file", {{Knob::ca_bundle, {}}});
  }
  if (answer.http_status != 200) {
    throw Error(ExitCode::operation_failed, fmt::format("{} answered HTTP {}", shown, answer.http_status), "check the catalog URL");
  }
  return std::move(answer.body);
}

}  // namespace

std::string signature_url(const std::string& catalog_url) {
  auto query = catalog_url.find_first_of("?#");
  if (query == std::string::npos) return catalog_url + ".sig";
  return catalog_url.substr(0, query) + ".sig" + catalog_url.substr(query);
}

CatalogUpdateResult update_catalog(const SystemRoot& root, const CatalogUpdateOptions& options) {
  if (options.url.rfind("https://", 0) != 0 && options.url.rfind("file://", 0) != 0) {
    throw Error(ExitCode::usage, fmt::format("the catalog URL \"{}\" is not https:// or file://", text::printable(text::redact_url(options.url))),
                "a catalog is fetched over verified TLS only", {{Knob::catalog_url, {}}});
  }
  auto keys = catalog::built_in_catalog_keys();
  for (const auto& file : options.extra_keys) keys.push_back(catalog::read_trusted_key(file.string()));
  keys.insert(keys.end(), options.extra_trusted.begin(), options.extra_trusted.end());
  if (options.ca_bundle) net::check_ca_file(*options.ca_bundle);

  const auto shown = text::redact_url(options.url);
  log::info(fmt::format("fetching the catalog {}", shown));
  auto document = get(options.url, max_catalog_bytes, options);
  auto signature = get(signature_url(options.url), max_signature_bytes, options);

  CatalogUpdateResult result;
  result.stored = catalog::channel_store_path(root);
  std::optional<catalog::StoredChannel> stored;
  try {
    stored = catalog::read_stored_channel(result.stored);
  } catch (const Error& error) {
    log::warning(fmt::format("{}; replacing it", error.what()));  // a damaged store must not block its own repair
  }
  if (stored) result.previous_serial = stored->serial;
  auto accepted = catalog::accept_channel(document, signature, keys, stored, shown);
  result.serial = accepted.catalog.serial.value_or(0);
  result.key = accepted.key;
  result.releases = accepted.catalog.releases.size();
  result.notes = accepted.catalog.notes;
  if (accepted.same_as_stored) return result;

  catalog::StoredChannel channel;
  channel.document = std::move(document);
  channel.signature = std::move(signature);
  channel.serial = result.serial;
  channel.url = shown;
  channel.key = accepted.key;
  catalog::write_stored_channel(result.stored, channel);
  result.changed = true;
  log::info(fmt::format("stored catalog serial {} ({} releases, signed by {}) in {}", result.serial, result.releases,
                        result.key, result.stored.string()));
  return result;
}

}  // namespace ibdriver::pipeline
