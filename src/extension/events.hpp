#pragma once
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ibdriver::extension {

// Telemetry events for the Azure guest agent's extension telemetry pipeline: files <digits>.json in the
// eventsFolder of HandlerEnvironment.json, each a JSON list of events, which the agent collects every
// 5 minutes and then deletes (azurelinuxagent/ga/collect_telemetry_events.py, WALinuxAgent 2.7.3 in
// Debian 12 and 2.15 upstream). Every field is a string (2.7.3 calls strip() on each value, so a
// number would drop the event); the agent drops an event whose fields add up to more than 6144
// characters, keeps 3072 characters of the message, drops an empty message, skips files over 4 MB, and
// takes at most 300 events per extension per period (2.7.3; 2.15 takes 360): the stricter limits are
// kept here, in bytes, which never exceed characters.
constexpr std::size_t max_event_message_bytes = 3072;
constexpr std::size_t max_event_bytes = 6144;     // all field values together
constexpr std::size_t max_waiting_events = 300;   // event files left in the folder for one collection

enum class EventLevel { informational, warning, error };

// One event in the agent's schema (ExtensionEventSchema): Version, Timestamp (UTC, ISO 8601 with
// microseconds, "2026-01-02T22:08:12.510696Z" as the schema's sample), TaskName, EventLevel
// ("Informational", "Warning", "Error"), Message (secrets masked, cut so the event stays within
// max_event_bytes and the message within max_event_message_bytes), EventPid, EventTid, OperationId.
nlohmann::ordered_json make_event(std::string_view version, std::string_view operation_id, std::string_view task,
                                  EventLevel level, const std::string& message, std::chrono::system_clock::time_point now);

// Writes events for one handler command (or worker) into the events folder; never throws (telemetry
// must not fail a command): a folder that cannot be written, or one already holding
// max_waiting_events files the agent has not collected yet, drops the event with a log line.
class EventWriter {
 public:
  // folder: the eventsFolder (nullopt: the agent has no telemetry pipeline; nothing is written).
  // version: the extension's version. A random GUID names the operation.
  EventWriter(std::optional<std::filesystem::path> folder, std::string version);
  void emit(std::string_view task, EventLevel level, const std::string& message) const noexcept;
  const std::string& operation_id() const { return operation_id_; }

 private:
  std::optional<std::filesystem::path> folder_;
  std::string version_;
  std::string operation_id_;
};

// A random (version 4) GUID, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".
std::string random_guid();

}  // namespace ibdriver::extension
