#include "extension/status.hpp"

#include <array>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/secrets.hpp"

namespace ibdriver::extension {

std::string utc_timestamp(std::chrono::system_clock::time_point when) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm parts{};
  ::gmtime_r(&seconds, &parts);
  std::array<char, 32> text{};
  std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text.data();
}

namespace {

nlohmann::ordered_json message_json(const std::string& message, std::size_t limit) {
  return {{"lang", "en-US"}, {"message", truncate_utf8(mask_secrets(message), limit)}};
}

nlohmann::ordered_json document(const HandlerStatus& status, std::chrono::system_clock::time_point now, std::size_t substatus_limit) {
  auto substatus = nlohmann::ordered_json::array();
  for (const auto& item : status.substatus) {
    substatus.push_back({{"name", item.name},
                         {"status", to_string(item.state)},
                         {"code", item.code},
                         {"formattedMessage", message_json(item.message, substatus_limit)}});
  }
  nlohmann::ordered_json body{{"name", status.name},
                      {"operation", status.operation},
                      {"status", to_string(status.state)},
                      {"code", status.code},
                      {"formattedMessage", message_json(status.message, max_message_bytes)},
                      {"substatus", substatus}};
  return nlohmann::ordered_json::array({{{"version", 1.0}, {"timestampUTC", utc_timestamp(now)}, {"status", body}}});
}

}  // namespace

std::string_view to_string(StatusState state) {
  switch (state) {
    case StatusState::transitioning: return "transitioning";
    case StatusState::warning: return "warning";
    case StatusState::error: return "error";
    case StatusState::success: return "success";
  }
  return "error";
}

std::string truncate_utf8(const std::string& text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  constexpr std::string_view marker = "...";
  std::size_t keep = max_bytes > marker.size() ? max_bytes - marker.size() : 0;
  // Step back over continuation bytes (10xxxxxx) so no character is split.
  while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0U) == 0x80U) --keep;
  return text.substr(0, keep) + std::string(marker);
}

std::string render_status(const HandlerStatus& status, std::chrono::system_clock::time_point now) {
  // A long substatus list with long messages could pass the agent's file limit: shorten the
  // substatus messages until it fits (the top-level message always keeps its 1 KB).
  for (std::size_t limit = max_message_bytes; ; limit /= 2) {
    // Messages quote tools' output, which need not be UTF-8: replace bad bytes, never fail.
    auto text = document(status, now, limit).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    if (text.size() <= max_status_file_bytes || limit < 16) return text;
  }
}

void write_status(const std::filesystem::path& status_folder, int sequence, const HandlerStatus& status) {
  auto file = status_folder / fmt::format("{}.status", sequence);
  try {
    std::error_code error;
    std::filesystem::create_directories(status_folder, error);
    write_file_atomically(file, render_status(status, std::chrono::system_clock::now()));
  } catch (...) {
    rethrow_with_context(fmt::format("writing the extension status {}", file.string()));
  }
}

std::string render_heartbeat(StatusState state, int code, const std::string& message) {
  nlohmann::ordered_json heartbeat = nlohmann::ordered_json::array(
      {{{"version", 1.0},
        {"heartbeat", {{"status", state == StatusState::error ? "NotReady" : "Ready"},
                       {"code", code},
                       {"formattedMessage", message_json(message, max_message_bytes)}}}}});
  return heartbeat.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void write_heartbeat(const std::filesystem::path& file, StatusState state, int code, const std::string& message) {
  write_file_atomically(file, render_heartbeat(state, code, message));
}

}  // namespace ibdriver::extension
