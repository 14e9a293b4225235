#pragma once
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ibdriver::extension {

// Reads one environment variable (a function so tests can give the agent's environment).
using EnvironmentLookup = std::function<std::optional<std::string>(const char* name)>;
EnvironmentLookup process_environment();

// HandlerEnvironment.json, laid out by the Azure guest agent in the extension folder.
struct HandlerEnvironment {
  std::string name;  // Microsoft.HpcCompute.InfiniBandDriverLinux
  std::filesystem::path log_folder;
  std::filesystem::path config_folder;
  std::filesystem::path status_folder;
  std::optional<std::filesystem::path> heartbeat_file;
  std::optional<std::filesystem::path> events_folder;
};
// Throws Error (usage) naming the file and the key when the document is not what the agent writes.
HandlerEnvironment parse_handler_environment(std::string_view text, const std::filesystem::path& file);

// The parts of our own HandlerManifest.json the handler acts on.
struct HandlerManifest {
  bool report_heartbeat = false;
};
// A missing manifest means the defaults (tests and hand runs); a malformed one is Error (usage).
HandlerManifest read_handler_manifest(const std::filesystem::path& extension_folder);

// Where the agent runs us, for which settings.
struct HandlerContext {
  std::filesystem::path extension_folder;
  HandlerEnvironment environment;
  HandlerManifest manifest;
  int sequence = 0;
  std::optional<std::filesystem::path> settings_file;  // <configFolder>/<seq>.settings, when it exists
};

// The extension folder (AZURE_GUEST_AGENT_EXTENSION_PATH, else the working folder), its
// HandlerEnvironment.json and manifest, and the sequence number (ConfigSequenceNumber, else the newest
// *.settings by mtime, else 0). Throws Error (usage) when run outside an extension folder.
HandlerContext locate_handler(const EnvironmentLookup& environment);

// The sequence number with an explicit value (the worker is told which one it works for).
HandlerContext locate_handler(const EnvironmentLookup& environment, int sequence);

}  // namespace ibdriver::extension
