// Any bytes as the agent's files: HandlerEnvironment.json, a <seq>.settings file and its settings
// (public, and as if decrypted), and a status, a heartbeat and a telemetry event rendered from what they
// hold: exit 1, never a crash; the event always within the agent's limits.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "extension/events.hpp"
#include "extension/handler_environment.hpp"
#include "extension/settings.hpp"
#include "extension/status.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace ibdriver::extension;
  try {
    (void)parse_handler_environment(text, "HandlerEnvironment.json");
  } catch (const ibdriver::Error&) {
  }
  try {
    auto runtime = parse_runtime_settings(text, "0.settings");
    auto protected_settings = nlohmann::json::parse(runtime.protected_settings, nullptr, false);
    if (protected_settings.is_discarded()) protected_settings = nullptr;
    auto settings = parse_extension_settings(runtime.public_settings, protected_settings);
    HandlerStatus status;
    status.name = "fuzz";
    status.operation = "Enable";
    status.message = settings.profile.value_or(std::string(text));
    for (const auto& mirror : settings.mirror_urls) status.substatus.push_back({"fetch", StatusState::success, 0, mirror});
    (void)render_status(status, std::chrono::system_clock::time_point{});
    (void)render_heartbeat(StatusState::error, 1, status.message);
    auto event = make_event("0.1.0.0", "guid", "Enable", EventLevel::error, status.message, std::chrono::system_clock::time_point{});
    std::size_t total = 0;
    for (const auto& [key, value] : event.items()) total += value.get<std::string>().size();
    if (total > max_event_bytes || event["Message"].get<std::string>().empty()) std::abort();
  } catch (const ibdriver::Error&) {
  }
  return 0;
}
