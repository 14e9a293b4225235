#include "extension/events.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <random>
#include <system_error>

#include <fmt/format.h>

#include "core/files.hpp"
#include "core/log.hpp"
#include "core/secrets.hpp"
#include "core/text.hpp"
#include "extension/status.hpp"

namespace ibdriver::extension {
namespace fs = std::filesystem;
namespace {

std::string_view level_name(EventLevel level) {
  switch (level) {
    case EventLevel::informational: return "Informational";
    case EventLevel::warning: return "Warning";
    case EventLevel::error: return "Error";
  }
  return "Informational";
}

std::string iso_microseconds(std::chrono::system_clock::time_point when) {
  auto seconds = std::chrono::time_point_cast<std::chrono::seconds>(when);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(when - seconds).count();
  std::time_t time = std::chrono::system_clock::to_time_t(seconds);
  std::tm parts{};
  ::gmtime_r(&time, &parts);
  std::array<char, 32> text{};
  std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%S", &parts);
  return fmt::format("{}.{:06d}Z", text.data(), micros);
}

bool is_event_file(const fs::path& path) {
  // The agent's pattern: ^(\d+)\.json$
  auto name = path.filename().string();
  if (name.size() <= 5 || name.compare(name.size() - 5, 5, ".json") != 0) return false;
  return std::all_of(name.begin(), name.end() - 5, [](char c) { return c >= '0' && c <= '9'; });
}

std::size_t waiting_events(const fs::path& folder) {
  std::size_t count = 0;
  std::error_code error;
  for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
    if (is_event_file(it->path())) ++count;
  }
  return count;
}

}  // namespace

std::string random_guid() {
  std::random_device device;
  std::array<unsigned, 16> bytes{};
  for (auto& byte : bytes) byte = device() & 0xFFU;
  bytes[6] = (bytes[6] & 0x0FU) | 0x40U;  // version 4
  bytes[8] = (bytes[8] & 0x3FU) | 0x80U;  // RFC 4122 variant
  std::string text;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text += '-';
    text += fmt::format("{:02x}", bytes[i]);
  }
  return text;
}

nlohmann::ordered_json make_event(std::string_view version, std::string_view operation_id, std::string_view task,
                                  EventLevel level, const std::string& message, std::chrono::system_clock::time_point now) {
  nlohmann::ordered_json event{{"Version", std::string(version)},
                               {"Timestamp", iso_microseconds(now)},
                               {"TaskName", truncate_utf8(std::string(task), 128)},
                               {"EventLevel", std::string(level_name(level))},
                               {"Message", ""},
                               {"EventPid", std::to_string(::getpid())},
                               {"EventTid", std::to_string(::syscall(SYS_gettid))},
                               {"OperationId", std::string(operation_id)}};
  std::size_t others = 0;
  for (const auto& [key, value] : event.items()) others += value.get<std::string>().size();
  auto room = std::min(max_event_message_bytes, max_event_bytes > others ? max_event_bytes - others : 0);
  // The agent strips each value and drops an event whose message is then empty.
  auto text = std::string(text::trim(mask_secrets(message)));
  if (text.empty()) text = "(no message)";
  // Quote tools' output as it came, but as valid UTF-8 (the agent decodes the file as UTF-8).
  text = nlohmann::ordered_json(text).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  text = nlohmann::ordered_json::parse(text).get<std::string>();
  event["Message"] = truncate_utf8(text, room);
  return event;
}

EventWriter::EventWriter(std::optional<fs::path> folder, std::string version)
    : folder_(std::move(folder)), version_(std::move(version)), operation_id_(random_guid()) {}

void EventWriter::emit(std::string_view task, EventLevel level, const std::string& message) const noexcept {
  if (!folder_) return;
  try {
    std::error_code error;
    fs::create_directories(*folder_, error);
    if (waiting_events(*folder_) >= max_waiting_events) {
      log::debug(fmt::format("{} already holds {} events the agent has not collected: not adding one for {}", folder_->string(),
                             max_waiting_events, task));
      return;
    }
    auto now = std::chrono::system_clock::now();
    auto document = nlohmann::ordered_json::array({make_event(version_, operation_id_, task, level, message, now)});
    // <digits>.json, unique: nanoseconds since the epoch, then the next free number.
    auto number = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    auto file = *folder_ / fmt::format("{}.json", number);
    while (fs::exists(file, error)) file = *folder_ / fmt::format("{}.json", ++number);
    write_file_atomically(file, document.dump());
  } catch (const std::exception& failure) {
    log::debug(fmt::format("cannot write a telemetry event for {}: {}", task, failure.what()));
  }
}

}  // namespace ibdriver::extension
