#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.hpp"
#include "catalog/signature.hpp"
#include "core/system_root.hpp"

namespace ibdriver::catalog {

// A channel catalog as it was accepted: the signed bytes themselves, kept with their signature.
struct StoredChannel {
  std::string document;   // the catalog JSON exactly as signed
  std::string signature;  // the detached signature (raw bytes)
  long long serial = 0;
  std::string url;        // where it came from, without any ?query
  std::string key;        // the name of the key that verified it
  std::string stored_at;  // UTC, 2026-11-30T14:00:00Z
};

// <root>/var/lib/ibdriver/catalog/channel.json: one file, replaced atomically, so a reader sees the
// old catalog or the new one, never half of one.
std::filesystem::path channel_store_path(const SystemRoot& root);

// The stored channel; nullopt when none was ever stored. A file that is not one is exit 14 naming it.
std::optional<StoredChannel> read_stored_channel(const std::filesystem::path& file);
void write_stored_channel(const std::filesystem::path& file, const StoredChannel& channel);

// The rows of the stored channel (origin "signed channel serial N"), or nullopt when none is stored.
std::optional<Catalog> stored_channel_catalog(const SystemRoot& root);

// The catalog every command resolves against on a machine, the one way it is loaded: the built-in
// rows, the signed channel stored under <root>/var/lib/ibdriver/ on top, and an overlay file
// (--catalog) on top of both. An overlay that cannot be read or parsed is exit 1; a damaged store 14.
Catalog load_machine_catalog(const SystemRoot& root, const std::optional<std::filesystem::path>& overlay);

// Decides whether a downloaded channel catalog may replace the stored one: the signature must verify
// with one of `keys`, the catalog must parse as a channel (rows with an unknown arch or kind are
// skipped with a note), its serial must not be older than `current_serial` (no rollback; the same
// serial must be the same bytes), and it must not re-pin a built-in file's SHA-256. Throws Error
// (operation_failed) saying which check failed; returns the parsed catalog and the verifying key.
struct AcceptedChannel {
  Catalog catalog;
  std::string key;
  bool same_as_stored = false;  // the same serial and bytes as the stored one: nothing to change
};
AcceptedChannel accept_channel(std::string_view document, std::string_view signature, const std::vector<TrustedKey>& keys,
                               const std::optional<StoredChannel>& stored, std::string_view shown_url);

std::string channel_origin(long long serial);  // "signed channel serial 7"

}  // namespace ibdriver::catalog
