#pragma once
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "catalog/signature.hpp"
#include "core/system_root.hpp"

namespace ibdriver::pipeline {

// `ibdriver catalog update`: fetch a channel catalog and its detached signature, check them, store.
struct CatalogUpdateOptions {
  // The catalog's URL (https://, or file:// for a copy carried to an offline machine); its signature
  // is the same URL with ".sig" appended to the path (before any ?query).
  std::string url;
  std::vector<std::filesystem::path> extra_keys;  // publishers' public keys, trusted besides the built-in ones
  std::vector<catalog::TrustedKey> extra_trusted; // the same given as PEM text (the extension's catalogKey)
  std::optional<std::filesystem::path> ca_bundle; // a private CA, trusted besides the system store
  std::chrono::milliseconds connect_timeout{20000};
  std::chrono::milliseconds total_timeout{120000};
};

struct CatalogUpdateResult {
  long long serial = 0;
  std::optional<long long> previous_serial;
  bool changed = false;  // false: the stored catalog was already this one
  std::string key;       // the key that verified the signature
  std::size_t releases = 0;
  std::vector<std::string> notes;  // rows skipped (unknown arch or kind)
  std::filesystem::path stored;
};

// Downloads both files (TLS verified against the system store plus `ca_bundle`; redirects must stay
// on https), then catalog::accept_channel decides, then the channel file under
// <root>/var/lib/ibdriver/catalog/ is replaced atomically. Any refusal - a download that fails, a
// bad or missing signature, a wrong key, a truncated or malformed catalog, an older serial, a row
// with a bad SHA-256 or one that re-pins a built-in file - is Error(operation_failed) and leaves the
// stored catalog untouched. An unreadable key file is exit 1. Never changes an installed driver.
CatalogUpdateResult update_catalog(const SystemRoot& root, const CatalogUpdateOptions& options);

// The signature's URL for a catalog URL: ".sig" appended to the path, before any ?query.
std::string signature_url(const std::string& catalog_url);

}  // namespace ibdriver::pipeline
