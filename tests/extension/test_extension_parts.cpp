// The handler protocol's parts: HandlerEnvironment.json, settings, protected settings, status files.
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/secrets.hpp"
#include "extension/events.hpp"
#include "extension/handler_environment.hpp"
#include "extension/protected_settings.hpp"
#include "extension/settings.hpp"
#include "extension/status.hpp"
#include "support/azure_agent.hpp"
#include "support/temp_dir.hpp"

using namespace ibdriver;
using namespace ibdriver::extension;
namespace fs = std::filesystem;

namespace {
ExitCode code_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.code();
  }
  return ExitCode::success;
}

std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::exception& error) {
    return error.what();
  }
  return {};
}
}  // namespace

TEST_CASE("HandlerEnvironment.json as the agent writes it", "[extension]") {
  auto environment = parse_handler_environment(R"([{"name": "Microsoft.HpcCompute.InfiniBandDriverLinux", "version": 1.0,
    "handlerEnvironment": {"logFolder": "/var/log/azure/x", "configFolder": "/e/config", "statusFolder": "/e/status",
    "heartbeatFile": "/e/heartbeat.log", "eventsFolder": "/var/log/azure/x/events"}}])", "HandlerEnvironment.json");
  CHECK(environment.name == "Microsoft.HpcCompute.InfiniBandDriverLinux");
  CHECK(environment.status_folder == "/e/status");
  CHECK(environment.config_folder == "/e/config");
  CHECK(environment.heartbeat_file == fs::path("/e/heartbeat.log"));

  for (const char* broken : {"", "{}", "[]", "[1]", R"([{"handlerEnvironment": 3}])",
                             R"([{"handlerEnvironment": {"logFolder": "/l", "configFolder": "/c"}}])",
                             R"([{"handlerEnvironment": {"logFolder": "/l", "configFolder": "/c", "statusFolder": 5}}])"}) {
    INFO(broken);
    CHECK(code_of([&] { parse_handler_environment(broken, "HandlerEnvironment.json"); }) == ExitCode::usage);
  }
}

TEST_CASE("the sequence number: ConfigSequenceNumber, else the newest settings file", "[extension]") {
  test::TempDir dir;
  test::AzureAgent agent(dir.path());
  agent.write_raw_settings(1, "{}");
  agent.write_raw_settings(4, "{}");
  agent.write_raw_settings(2, "{}");  // written last: the newest
  std::map<std::string, std::string> variables{{"AZURE_GUEST_AGENT_EXTENSION_PATH", agent.folder().string()}};
  auto lookup = [&](const char* name) -> std::optional<std::string> {
    auto found = variables.find(name);
    return found == variables.end() ? std::nullopt : std::optional<std::string>(found->second);
  };
  CHECK(locate_handler(lookup).sequence == 2);
  variables["ConfigSequenceNumber"] = "4";
  auto context = locate_handler(lookup);
  CHECK(context.sequence == 4);
  CHECK(context.settings_file == agent.folder() / "config/4.settings");
  variables["ConfigSequenceNumber"] = "7";
  CHECK_FALSE(locate_handler(lookup).settings_file.has_value());
  variables["ConfigSequenceNumber"] = "x1";
  CHECK(code_of([&] { locate_handler(lookup); }) == ExitCode::usage);
  variables["AZURE_GUEST_AGENT_EXTENSION_PATH"] = dir.path().string();  // no HandlerEnvironment.json there
  variables.erase("ConfigSequenceNumber");
  CHECK_THAT(message_of([&] { locate_handler(lookup); }), Catch::Contains("no HandlerEnvironment.json"));
}

TEST_CASE("settings: every documented key, strictly typed", "[extension]") {
  auto settings = parse_extension_settings(
      {{"driverVersion", "24.10"}, {"mirrorUrl", {"https://a.example/x", "https://b.example/y"}}, {"profile", "mlnx-ofed-hpc"},
       {"skipVmbusCheck", true}, {"skipDeviceCheck", false}, {"skipOsCheck", true}, {"skipVmSizeCheck", true}, {"ipoib", false},
       {"uninstallDrivers", true}},
      {{"proxy", "http://user:hunter2pass@proxy.example:3128"}});
  CHECK(settings.driver_version == "24.10");
  CHECK(settings.mirror_urls.size() == 2);
  CHECK(settings.skip_vmbus_check);
  CHECK_FALSE(settings.skip_device_check);
  CHECK(settings.ipoib == false);
  CHECK(settings.uninstall_drivers);
  CHECK(settings.proxy == "http://user:hunter2pass@proxy.example:3128");
  // Protected values are secrets from then on.
  CHECK(mask_secrets("via http://user:hunter2pass@proxy.example:3128 failed") == "via *** failed");

  CHECK(parse_extension_settings(nlohmann::json::object(), nullptr).mirror_urls.empty());
  CHECK_THAT(message_of([] { parse_extension_settings({{"driverVersoin", "24.10"}}, nullptr); }), Catch::Contains("\"driverVersoin\" is not known"));
  CHECK_THAT(message_of([] { parse_extension_settings({{"ipoib", "yes"}}, nullptr); }), Catch::Contains("\"ipoib\" must be true or false"));
  CHECK_THAT(message_of([] { parse_extension_settings({{"mirrorUrl", 5}}, nullptr); }), Catch::Contains("\"mirrorUrl\" must be a string or a list"));
  CHECK_THAT(message_of([] { parse_extension_settings({{"driverUrl", "https://x/y.tgz"}}, nullptr); }), Catch::Contains("needs \"sha256\""));
  CHECK_THAT(message_of([] { parse_extension_settings({{"proxy", "http://p"}}, {{"proxy", "http://q"}}); }), Catch::Contains("in both"));
  CHECK(code_of([] { parse_extension_settings({{"profile", ""}}, nullptr); }) == ExitCode::usage);
}

TEST_CASE("settings: catalogUrl is https:// or file://, catalogKey a PEM public key", "[extension][issue16]") {
  auto settings = parse_extension_settings({{"catalogUrl", "https://catalog.example/ibdriver/catalog.json"}}, nullptr);
  CHECK(settings.catalog_url == "https://catalog.example/ibdriver/catalog.json");
  CHECK(settings.catalog_keys.empty());
  // Checked before anything is fetched: a plain-HTTP catalog is a settings error (exit 1).
  CHECK(code_of([] { parse_extension_settings({{"catalogUrl", "http://catalog.example/c.json"}}, nullptr); }) == ExitCode::usage);
  CHECK_THAT(message_of([] { parse_extension_settings({{"catalogUrl", "http://catalog.example/c.json"}}, nullptr); }),
             Catch::Contains("\"catalogUrl\" must be an https:// URL"));
  CHECK_THAT(message_of([] { parse_extension_settings({{"catalogKey", "not a key"}}, nullptr); }),
             Catch::Contains("\"catalogKey\" is not usable") && Catch::Contains("no PEM public key"));
  CHECK(setting_for(Remedy{Knob::catalog_url, "https://c.example/c.json"}) == "set \"catalogUrl\": \"https://c.example/c.json\"");
}

TEST_CASE("the settings file: shapes the agent writes and broken ones", "[extension]") {
  CHECK(parse_runtime_settings("", "0.settings").public_settings.empty());
  CHECK(parse_runtime_settings(R"({"runtimeSettings": []})", "0.settings").protected_settings.empty());
  auto settings = parse_runtime_settings(
      R"({"runtimeSettings": [{"handlerSettings": {"publicSettings": {"ipoib": false}, "protectedSettings": "QUJD",
          "protectedSettingsCertThumbprint": "ABCDEF"}}]})", "0.settings");
  CHECK(settings.public_settings == nlohmann::json{{"ipoib", false}});
  CHECK(settings.protected_settings == "QUJD");
  CHECK(settings.thumbprint == "ABCDEF");
  for (const char* broken : {"{", "[]", R"({"runtimeSettings": 1})", R"({"runtimeSettings": [{"handlerSettings": {"publicSettings": []}}]})",
                             R"({"runtimeSettings": [{"handlerSettings": {"protectedSettings": "QUJD"}}]})"}) {
    INFO(broken);
    CHECK(code_of([&] { parse_runtime_settings(broken, "0.settings"); }) == ExitCode::usage);
  }
  test::TempDir dir;
  auto huge = dir.path() / "0.settings";
  {
    std::ofstream out(huge);
    out << R"({"runtimeSettings": [{"handlerSettings": {"publicSettings": {"profile": ")" << std::string(10 << 20, 'a') << "\"}}}]}";
  }
  CHECK_THAT(message_of([&] { read_runtime_settings(huge); }), Catch::Contains("more than the"));
  CHECK(code_of([&] { read_runtime_settings(huge); }) == ExitCode::usage);
}

TEST_CASE("protected settings decrypt with the agent's certificate, as openssl cms does", "[extension]") {
  test::TempDir dir;
  test::AzureAgent agent(dir.path());
  auto thumbprint = agent.make_certificate();
  auto other = agent.make_certificate();
  const std::string secret = R"({"mirrorUrl": "https://mirror.example/ofed?sv=2024&sig=c2VjcmV0c2ln"})";
  auto encrypted = agent.encrypt(secret, thumbprint);
  CHECK(certificate_thumbprint(agent.waagent_folder() / (thumbprint + ".crt")) == thumbprint);
  CHECK(decrypt_protected_settings(encrypted, thumbprint, agent.waagent_folder()) == secret);
  // Lower case is how some tools print thumbprints.
  std::string lower;
  for (char c : thumbprint) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  CHECK(decrypt_protected_settings(encrypted, lower, agent.waagent_folder()) == secret);

  CHECK_THAT(message_of([&] { decrypt_protected_settings(encrypted, other, agent.waagent_folder()); }),
             Catch::Contains("cannot decrypt the protected settings with certificate " + other));
  CHECK_THAT(message_of([&] { decrypt_protected_settings(encrypted, "0123456789ABCDEF0123456789ABCDEF01234567", agent.waagent_folder()); }),
             Catch::Contains("cannot read the certificate"));
  CHECK_THAT(message_of([&] { decrypt_protected_settings(encrypted, "../../etc/passwd", agent.waagent_folder()); }),
             Catch::Contains("is not a hex thumbprint"));
  CHECK_THAT(message_of([&] { decrypt_protected_settings("not base64!", thumbprint, agent.waagent_folder()); }),
             Catch::Contains("not base64"));
  CHECK_THAT(message_of([&] { decrypt_protected_settings("QUJDRA==", thumbprint, agent.waagent_folder()); }),
             Catch::Contains("not DER CMS"));
  // A certificate file that is not the one its name says.
  fs::copy_file(agent.waagent_folder() / (other + ".crt"), agent.waagent_folder() / (thumbprint + ".crt"), fs::copy_options::overwrite_existing);
  CHECK_THAT(message_of([&] { decrypt_protected_settings(encrypted, thumbprint, agent.waagent_folder()); }),
             Catch::Contains("has thumbprint " + other));
  for (const auto& attempt : {other, std::string("../x")}) {
    CHECK(code_of([&] { decrypt_protected_settings(encrypted, attempt, agent.waagent_folder()); }) == ExitCode::usage);
  }
}

TEST_CASE("status documents have the agent's shape and limits", "[extension]") {
  HandlerStatus status;
  status.name = test::AzureAgent::handler_name;
  status.operation = "Enable";
  status.state = StatusState::transitioning;
  status.message = "downloading";
  status.substatus.push_back({"fetch", StatusState::transitioning, 0, "downloading"});
  auto text = render_status(status, std::chrono::system_clock::time_point{});
  auto document = nlohmann::json::parse(text);
  CHECK(test::status_shape_problems(document).empty());
  CHECK(document[0]["timestampUTC"] == "1970-01-01T00:00:00Z");
  CHECK(text.find("\"version\"") < text.find("\"timestampUTC\""));  // in the documented order

  // 1 KB per message, cut on a character boundary; 128 KB per file however many substatus.
  std::string long_text;
  while (long_text.size() < 5000) long_text += "Größe ";
  status.message = long_text;
  for (int i = 0; i < 400; ++i) status.substatus.push_back({"dkms", StatusState::success, 0, long_text});
  text = render_status(status, std::chrono::system_clock::now());
  CHECK(text.size() <= max_status_file_bytes);
  document = nlohmann::json::parse(text);  // throws on a split UTF-8 sequence
  auto message = document[0]["status"]["formattedMessage"]["message"].get<std::string>();
  CHECK(message.size() <= max_message_bytes);
  CHECK_THAT(message, Catch::EndsWith("..."));
  CHECK(truncate_utf8("äää", 4) == "...");
  CHECK(truncate_utf8("abc", 3) == "abc");

  register_secret("sig=T0pS3cret");
  status.message = "GET https://m.example/x?sv=1&sig=T0pS3cret failed";
  CHECK(render_status(status, {}).find("T0pS3cret") == std::string::npos);
}

TEST_CASE("a status folder that cannot be written is exit 14", "[extension]") {
  test::TempDir dir;
  std::ofstream(dir.path() / "status") << "a file, not a folder";
  HandlerStatus status;
  status.name = "x";
  status.operation = "Enable";
  CHECK(code_of([&] { write_status(dir.path() / "status", 0, status); }) == ExitCode::operation_failed);
  CHECK_THAT(message_of([&] { write_status(dir.path() / "status", 0, status); }), Catch::Contains("writing the extension status"));
}

TEST_CASE("the README's sample status files have the agent's shape", "[extension]") {
  for (const char* name : {"status-success.json", "status-error.json"}) {
    INFO(name);
    auto text = read_file(fs::path(IBDRIVER_TEST_FIXTURES) / "extension" / name, 1 << 20);
    auto document = nlohmann::json::parse(text);
    CHECK(test::status_shape_problems(document).empty());
  }
}

TEST_CASE("a message that is not UTF-8 still makes a valid status file", "[extension]") {
  HandlerStatus status;
  status.name = "x";
  status.operation = "Enable";
  status.message = "make: \xff\xfe bad bytes from a tool";
  status.substatus.push_back({"dkms", StatusState::error, 14, "cc1: \xc3 truncated"});
  auto document = nlohmann::json::parse(render_status(status, {}));
  CHECK_THAT(document[0]["status"]["formattedMessage"]["message"].get<std::string>(), Catch::Contains("bad bytes from a tool"));
}

TEST_CASE("the heartbeat in the agent's format: formattedMessage, a handler status, an integer code", "[extension]") {
  register_secret("sig=HeartS3cret");
  std::string long_text(5000, 'x');
  auto ready = nlohmann::json::parse(render_heartbeat(StatusState::transitioning, 0, "installing; sig=HeartS3cret " + long_text));
  REQUIRE(ready.is_array());
  CHECK(ready[0]["version"] == 1.0);
  const auto& heartbeat = ready[0]["heartbeat"];
  CHECK(heartbeat["status"] == "Ready");  // the agent copies it into the handler status (Ready, NotReady, ...)
  CHECK(heartbeat["code"] == 0);
  CHECK_FALSE(heartbeat.contains("Message"));  // what the agent ignores
  CHECK(heartbeat["formattedMessage"]["lang"] == "en-US");
  auto message = heartbeat["formattedMessage"]["message"].get<std::string>();
  CHECK(message.size() <= max_message_bytes);
  CHECK(message.find("HeartS3cret") == std::string::npos);
  auto failed = nlohmann::json::parse(render_heartbeat(StatusState::error, 14, "failed"));
  CHECK(failed[0]["heartbeat"]["status"] == "NotReady");
  CHECK(failed[0]["heartbeat"]["code"] == 14);
  CHECK(utc_timestamp(std::chrono::system_clock::time_point{}) == "1970-01-01T00:00:00Z");
}

TEST_CASE("telemetry events: the agent's fields, all strings, within its limits", "[extension]") {
  register_secret("sig=EventS3cret");
  auto event = make_event("0.1.0.0", "a-guid", "Enable.dkms", EventLevel::error, "short message", std::chrono::system_clock::time_point{});
  const std::vector<std::string> fields{"Version", "Timestamp", "TaskName", "EventLevel", "Message", "EventPid", "EventTid", "OperationId"};
  for (const auto& field : fields) {
    INFO(field);
    REQUIRE(event.contains(field));
    CHECK(event[field].is_string());  // 2.7.3 strips every value: a number drops the event
    CHECK_FALSE(event[field].get<std::string>().empty());
  }
  CHECK(event["Timestamp"] == "1970-01-01T00:00:00.000000Z");
  CHECK(event["EventLevel"] == "Error");
  CHECK(event["EventPid"] == std::to_string(::getpid()));

  // A tool's flood of output, a secret in it, bytes that are not UTF-8: cut, masked, valid.
  std::string flood = "make.log: sig=EventS3cret \xff\xfe ";
  while (flood.size() < 64 * 1024) flood += "error: Größe undefined reference ";
  event = make_event("0.1.0.0", random_guid(), "Enable.dkms", EventLevel::error, flood, std::chrono::system_clock::now());
  auto text = event.dump();
  CHECK(nlohmann::json::parse(text).is_object());  // valid UTF-8 JSON
  std::size_t total = 0;
  for (const auto& field : fields) total += event[field].get<std::string>().size();
  CHECK(total <= max_event_bytes);
  CHECK(event["Message"].get<std::string>().size() <= max_event_message_bytes);
  CHECK(text.find("EventS3cret") == std::string::npos);
  // The agent drops an event whose message is empty after strip().
  CHECK(make_event("v", "g", "t", EventLevel::informational, "  \n", {})["Message"] == "(no message)");
  CHECK(random_guid().size() == 36);
  CHECK(random_guid() != random_guid());
}

TEST_CASE("events go to <digits>.json files, never more than the agent takes in one period", "[extension]") {
  test::TempDir dir;
  auto folder = dir.path() / "events";
  EventWriter writer(folder, "0.1.0.0");
  for (std::size_t i = 0; i < max_waiting_events + 5; ++i) writer.emit("Enable.fetch", EventLevel::informational, "event " + std::to_string(i));
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(folder)) {
    auto name = entry.path().filename().string();
    INFO(name);
    CHECK(std::regex_match(name, std::regex(R"(\d+\.json)")));  // the agent's ^(\d+)\.json$; no temporary file left
    auto document = nlohmann::json::parse(read_file(entry.path(), 1 << 20));
    REQUIRE(document.is_array());
    CHECK(document.size() == 1);
    CHECK(document[0]["OperationId"] == writer.operation_id());
    ++files;
  }
  CHECK(files == max_waiting_events);
  // No events folder (an agent without the telemetry pipeline), or one that cannot be written: nothing, no error.
  EventWriter(std::nullopt, "0.1.0.0").emit("Enable", EventLevel::error, "x");
  std::ofstream(dir.path() / "a-file") << "not a folder";
  EventWriter(dir.path() / "a-file", "0.1.0.0").emit("Enable", EventLevel::error, "x");
}

TEST_CASE("the settings table is the one place settings are defined, and the README documents every key", "[extension]") {
  auto readme = read_file(fs::path(IBDRIVER_SOURCE_DIR) / "README.md", 1 << 20);
  auto unknown = message_of([] { parse_extension_settings({{"noSuchKey", true}}, nullptr); });
  std::set<std::string_view> keys;
  for (const auto& row : setting_table()) {
    INFO(row.key);
    CHECK(keys.insert(row.key).second);
    CHECK_THAT(readme, Catch::Contains(fmt::format("`{}`", row.key)));
    CHECK_THAT(unknown, Catch::Contains(std::string(row.key)));
    if (row.knob) CHECK_THAT(setting_for(Remedy{*row.knob, ""}), Catch::Contains(fmt::format("\"{}\"", row.key)));
  }
  CHECK(setting_for(Remedy{Knob::driver_version, "24.10"}) == "set \"driverVersion\": \"24.10\"");
  CHECK(setting_for(Remedy{Knob::skip_validation, ""}) == "set \"validate\": false");
  CHECK(setting_for(Remedy{Knob::lock_wait, "600"}).empty());  // no setting reaches it
}
