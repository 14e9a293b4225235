#include "extension/handler_environment.hpp"

#include <cstdlib>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/text.hpp"

namespace ibdriver::extension {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t max_document_bytes = 64 * 1024;

const nlohmann::json& first_element(const nlohmann::json& document, const fs::path& file) {
  if (!document.is_array() || document.empty() || !document.front().is_object()) {
    throw Error(ExitCode::usage, fmt::format("{} is not a JSON array holding an object", file.string()),
                "the Azure guest agent writes this file; reinstall the extension");
  }
  return document.front();
}

std::string required_string(const nlohmann::json& object, const char* key, const fs::path& file) {
  auto found = object.find(key);
  if (found == object.end() || !found->is_string() || found->get<std::string>().empty()) {
    throw Error(ExitCode::usage, fmt::format("{}: \"{}\" is missing or not a string", file.string(), key),
                "the Azure guest agent writes this file; reinstall the extension");
  }
  return found->get<std::string>();
}

// The newest <n>.settings by modification time, as the extension libraries pick it.
std::optional<int> newest_settings(const fs::path& config_folder) {
  std::error_code error;
  std::optional<int> newest;
  fs::file_time_type newest_time{};
  for (fs::directory_iterator it(config_folder, error), end; !error && it != end; it.increment(error)) {
    const auto& path = it->path();
    if (path.extension() != ".settings") continue;
    auto number = text::parse_decimal(path.stem().string());
    if (!number) continue;
    auto when = fs::last_write_time(path, error);
    if (error) continue;
    if (!newest || when > newest_time) {
      newest = number;
      newest_time = when;
    }
  }
  return newest;
}

}  // namespace

EnvironmentLookup process_environment() {
  return [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read before any thread starts
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

HandlerEnvironment parse_handler_environment(std::string_view text, const fs::path& file) {
  auto document = nlohmann::json::parse(text, nullptr, false);
  if (document.is_discarded()) {
    throw Error(ExitCode::usage, fmt::format("{} is not valid JSON", file.string()),
                "the Azure guest agent writes this file; reinstall the extension");
  }
  const auto& entry = first_element(document, file);
  auto found = entry.find("handlerEnvironment");
  if (found == entry.end() || !found->is_object()) {
    throw Error(ExitCode::usage, fmt::format("{}: \"handlerEnvironment\" is missing or not an object", file.string()));
  }
  const auto& values = *found;
  HandlerEnvironment environment;
  environment.name = entry.contains("name") && entry["name"].is_string() ? entry["name"].get<std::string>()
                                                                          : "Microsoft.HpcCompute.InfiniBandDriverLinux";
  environment.log_folder = required_string(values, "logFolder", file);
  environment.config_folder = required_string(values, "configFolder", file);
  environment.status_folder = required_string(values, "statusFolder", file);
  if (values.contains("heartbeatFile") && values["heartbeatFile"].is_string()) {
    environment.heartbeat_file = fs::path(values["heartbeatFile"].get<std::string>());
  }
  if (values.contains("eventsFolder") && values["eventsFolder"].is_string()) {
    environment.events_folder = fs::path(values["eventsFolder"].get<std::string>());
  }
  return environment;
}

HandlerManifest read_handler_manifest(const fs::path& extension_folder) {
  auto file = extension_folder / "HandlerManifest.json";
  auto text = read_file_if_exists(file, max_document_bytes);
  HandlerManifest manifest;
  if (!text) return manifest;
  auto document = nlohmann::json::parse(*text, nullptr, false);
  if (document.is_discarded()) throw Error(ExitCode::usage, fmt::format("{} is not valid JSON", file.string()));
  const auto& entry = first_element(document, file);
  if (!entry.contains("handlerManifest") || !entry["handlerManifest"].is_object()) {
    throw Error(ExitCode::usage, fmt::format("{}: \"handlerManifest\" is missing or not an object", file.string()));
  }
  const auto& values = entry["handlerManifest"];
  if (values.contains("reportHeartbeat")) {
    if (!values["reportHeartbeat"].is_boolean()) {
      throw Error(ExitCode::usage, fmt::format("{}: \"reportHeartbeat\" must be true or false", file.string()));
    }
    manifest.report_heartbeat = values["reportHeartbeat"].get<bool>();
  }
  return manifest;
}

HandlerContext locate_handler(const EnvironmentLookup& environment, int sequence) {
  HandlerContext context;
  auto given = environment("AZURE_GUEST_AGENT_EXTENSION_PATH");
  std::error_code error;
  context.extension_folder = given && !given->empty() ? fs::path(*given) : fs::current_path(error);
  auto file = context.extension_folder / "HandlerEnvironment.json";
  auto text = read_file_if_exists(file, max_document_bytes);
  if (!text) {
    throw Error(ExitCode::usage, fmt::format("no HandlerEnvironment.json in {}", context.extension_folder.string()),
                "`ibdriver extension` commands are run by the Azure guest agent from the extension folder; "
                "by hand, use `ibdriver install` (or set AZURE_GUEST_AGENT_EXTENSION_PATH)");
  }
  context.environment = parse_handler_environment(*text, file);
  context.manifest = read_handler_manifest(context.extension_folder);
  context.sequence = sequence;
  auto settings = context.environment.config_folder / fmt::format("{}.settings", sequence);
  if (fs::exists(settings, error)) context.settings_file = settings;
  return context;
}

HandlerContext locate_handler(const EnvironmentLookup& environment) {
  int sequence = 0;
  if (auto given = environment("ConfigSequenceNumber"); given && !text::trim(*given).empty()) {
    auto parsed = text::parse_decimal(*given);
    if (!parsed) {
      throw Error(ExitCode::usage, fmt::format("ConfigSequenceNumber is \"{}\": expected a number", text::printable(*given, 40)));
    }
    sequence = *parsed;
  } else {
    // Without the variable, the newest settings file decides (as the extension libraries do).
    auto folder_context = locate_handler(environment, 0);
    sequence = newest_settings(folder_context.environment.config_folder).value_or(0);
  }
  return locate_handler(environment, sequence);
}

}  // namespace ibdriver::extension
