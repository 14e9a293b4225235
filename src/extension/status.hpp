#pragma once
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace ibdriver::extension {

// The four states the agent knows (anything else reads as error).
enum class StatusState { transitioning, warning, error, success };
std::string_view to_string(StatusState state);

struct Substatus {
  std::string name;  // a stage: detect, resolve, fetch, unpack, packages, dkms, configure, validate
  StatusState state = StatusState::transitioning;
  int code = 0;
  std::string message;
};

struct HandlerStatus {
  std::string name;       // the handler's full name, from HandlerEnvironment.json
  std::string operation;  // Install, Enable, Disable, Uninstall, Update
  StatusState state = StatusState::transitioning;
  int code = 0;
  std::string message;
  std::vector<Substatus> substatus;
};

// The agent's limits (reference: azure-extension-protocol.md).
constexpr std::size_t max_message_bytes = 1024;
constexpr std::size_t max_status_file_bytes = 128 * 1024;

// The status document exactly in the agent's shape, timestamp in UTC, secrets masked, every message
// cut to max_message_bytes (on a UTF-8 boundary, marked with "..."), the whole under max_status_file_bytes.
std::string render_status(const HandlerStatus& status, std::chrono::system_clock::time_point now);

// Writes <status_folder>/<sequence>.status atomically. Throws Error (operation_failed) naming the
// folder when it cannot be written.
void write_status(const std::filesystem::path& status_folder, int sequence, const HandlerStatus& status);

// The heartbeat document (only when the manifest's reportHeartbeat is true), as the agent reads it
// (azurelinuxagent/ga/exthandlers.py, collect_heartbeat and parse_formatted_message, 2.7.3 and 2.15):
// [{"version": 1.0, "heartbeat": {"status": "Ready"|"NotReady", "code": N, "formattedMessage":
// {"lang": "en-US", "message": "..."}}}]. The agent copies "status" into the handler status, whose
// values are its _VALID_HANDLER_STATUS (Ready, NotReady, ...): an error is NotReady. The message is
// masked and cut to max_message_bytes. write_heartbeat writes it atomically.
std::string render_heartbeat(StatusState state, int code, const std::string& message);
void write_heartbeat(const std::filesystem::path& file, StatusState state, int code, const std::string& message);

// `when` as the agent writes timestampUTC: "%Y-%m-%dT%H:%M:%SZ" (exthandlers.py create_status_file).
std::string utc_timestamp(std::chrono::system_clock::time_point when);

// Cuts text to at most max_bytes bytes without splitting a UTF-8 sequence; "..." marks a cut.
std::string truncate_utf8(const std::string& text, std::size_t max_bytes);

}  // namespace ibdriver::extension
