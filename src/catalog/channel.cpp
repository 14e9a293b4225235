#include "catalog/channel.hpp"

#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/text.hpp"

namespace ibdriver::catalog {

namespace {

constexpr std::size_t max_store_bytes = 40 * 1024 * 1024;

std::string to_hex(std::string_view bytes) {
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char byte : bytes) hex += fmt::format("{:02x}", byte);
  return hex;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int high = hex_digit(hex[i]);
    int low = hex_digit(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes += static_cast<char>(high * 16 + low);
  }
  return bytes;
}

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                     parts.tm_hour, parts.tm_min, parts.tm_sec);
}

[[noreturn]] void damaged(const std::filesystem::path& file, std::string_view why) {
  throw Error(ExitCode::operation_failed, fmt::format("the stored catalog channel {} is damaged: {}", file.string(), why),
              "remove the file and fetch the signed catalog again");
}

}  // namespace

std::string channel_origin(long long serial) { return fmt::format("{} serial {}", channel_origin_prefix, serial); }

std::filesystem::path channel_store_path(const SystemRoot& root) { return root.path("/var/lib/ibdriver/catalog/channel.json"); }

std::optional<StoredChannel> read_stored_channel(const std::filesystem::path& file) {
  auto content = read_file_if_exists(file, max_store_bytes);
  if (!content) return std::nullopt;
  auto json = nlohmann::json::parse(*content, nullptr, false);
  if (json.is_discarded() || !json.is_object()) damaged(file, "not a JSON object");
  StoredChannel stored;
  try {
    stored.document = json.at("document").get<std::string>();
    auto signature = from_hex(json.at("signature").get<std::string>());
    if (!signature) damaged(file, "the signature is not hexadecimal");
    stored.signature = *signature;
    stored.serial = json.at("serial").get<long long>();
    stored.url = json.value("url", std::string());
    stored.key = json.value("key", std::string());
    stored.stored_at = json.value("stored_at", std::string());
  } catch (const nlohmann::json::exception& error) {
    damaged(file, error.what());
  }
  return stored;
}

void write_stored_channel(const std::filesystem::path& file, const StoredChannel& channel) {
  nlohmann::json json{{"serial", channel.serial},     {"url", channel.url},
                      {"key", channel.key},           {"stored_at", channel.stored_at.empty() ? utc_now() : channel.stored_at},
                      {"signature", to_hex(channel.signature)}, {"document", channel.document}};
  std::filesystem::create_directories(file.parent_path());
  write_file_atomically(file, json.dump(1) + "\n", 0644);
}

Catalog load_machine_catalog(const SystemRoot& root, const std::optional<std::filesystem::path>& overlay) {
  return load_catalog(overlay, stored_channel_catalog(root));
}

std::optional<Catalog> stored_channel_catalog(const SystemRoot& root) {
  auto file = channel_store_path(root);
  auto stored = read_stored_channel(file);
  if (!stored) return std::nullopt;
  try {
    auto catalog = parse_catalog(stored->document, channel_origin(stored->serial), CatalogSource::channel);
    catalog.serial = stored->serial;
    return catalog;
  } catch (const Error& error) {
    damaged(file, error.what());
  }
}

AcceptedChannel accept_channel(std::string_view document, std::string_view signature, const std::vector<TrustedKey>& keys,
                               const std::optional<StoredChannel>& stored, std::string_view shown_url) {
  const std::string keep = "the catalog stored before stays in use";
  AcceptedChannel accepted;
  accepted.key = verifying_key(document, signature, keys);
  if (accepted.key.empty()) {
    throw Error(ExitCode::operation_failed,
                fmt::format("the catalog at {} is not signed by a trusted key ({} bytes, signature {} bytes, {} key(s) tried)",
                            shown_url, document.size(), signature.size(), keys.size()),
                fmt::format("{}; a publisher's own key is trusted when given as a key file", keep),
                {{Knob::catalog_key, {}}});
  }
  // The serial is read before the rows are judged, so a rollback is named as such.
  auto json = nlohmann::json::parse(document.begin(), document.end(), nullptr, false);
  if (json.is_object() && json.contains("serial") && json["serial"].is_number_integer() && stored) {
    auto offered = json["serial"].get<long long>();
    if (offered < stored->serial) {
      throw Error(ExitCode::operation_failed,
                  fmt::format("the catalog at {} has serial {}, older than the stored serial {}: refused (no rollback)",
                              shown_url, offered, stored->serial),
                  keep);
    }
    if (offered == stored->serial) {
      if (document != stored->document) {
        throw Error(ExitCode::operation_failed,
                    fmt::format("the catalog at {} has the stored serial {} but different content: refused", shown_url, offered),
                    fmt::format("{}; a publisher must raise the serial with every change", keep));
      }
      accepted.same_as_stored = true;
    }
  }
  long long serial = 0;
  if (json.is_object() && json.contains("serial") && json["serial"].is_number_integer()) serial = json["serial"].get<long long>();
  accepted.catalog = parse_catalog(document, channel_origin(serial), CatalogSource::channel);
  check_channel_against(accepted.catalog, built_in_catalog());
  return accepted;
}

}  // namespace ibdriver::catalog
