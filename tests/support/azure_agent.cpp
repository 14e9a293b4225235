#include "support/azure_agent.hpp"

#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "core/files.hpp"
#include "core/text.hpp"
#include "support/tools.hpp"

namespace ibdriver::test {
namespace fs = std::filesystem;
namespace {

ProcessResult must_run(const std::vector<std::string>& argv) {
  auto result = run_process(argv);
  if (!result.succeeded()) throw std::runtime_error(format_command(argv) + ": " + result.tail());
  return result;
}

// Through a temporary name and a rename: every agent command rewrites HandlerEnvironment.json, and a
// detached worker reading it then must see the old text or the new one, never a truncated file.
void write_text(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  auto temporary = file;
  temporary += ".tmp";
  std::ofstream(temporary, std::ios::binary) << text;
  fs::rename(temporary, file);
}

}  // namespace

AzureAgent::AzureAgent(fs::path root, std::string version, bool chroot)
    : root_(std::move(root)), version_(std::move(version)), chroot_(chroot) {
  auto extension = folder();
  fs::create_directories(extension / "config");
  fs::create_directories(extension / "status");
  fs::create_directories(extension / "bin");
  fs::create_directories(log_folder());
  nlohmann::json environment = nlohmann::json::array(
      {{{"name", handler_name},
        {"version", 1.0},
        {"handlerEnvironment",
         {{"logFolder", seen(log_folder()).string()},
          {"configFolder", seen(extension / "config").string()},
          {"statusFolder", seen(extension / "status").string()},
          {"heartbeatFile", seen(extension / "heartbeat.log").string()},
          {"eventsFolder", seen(log_folder() / "events").string()}}}}});
  write_text(extension / "HandlerEnvironment.json", environment.dump());
  // The agent runs the zip's binary from the extension folder.
  // The build's binary, or (in the VM harness, where the .deb installed it) IBDRIVER_EXTENSION_BINARY.
  const char* binary = std::getenv("IBDRIVER_EXTENSION_BINARY");  // NOLINT(concurrency-mt-unsafe)
  if (!fs::exists(extension / "bin/ibdriver")) fs::copy_file(binary != nullptr ? binary : IBDRIVER_BINARY, extension / "bin/ibdriver");
}

fs::path AzureAgent::seen(const fs::path& path) const {
  return chroot_ ? fs::path("/") / path.lexically_relative(root_) : path;
}

fs::path AzureAgent::folder() const { return waagent_folder() / fmt::format("{}-{}", handler_name, version_); }
fs::path AzureAgent::status_file(int sequence) const { return folder() / "status" / fmt::format("{}.status", sequence); }
fs::path AzureAgent::log_folder() const { return root_ / "var/log/azure" / handler_name; }

void AzureAgent::enable_heartbeat() const {
  nlohmann::json manifest = nlohmann::json::array(
      {{{"name", "InfiniBandDriverLinux"},
        {"version", 1.0},
        {"handlerManifest",
         {{"installCommand", "bin/ibdriver extension install"}, {"uninstallCommand", "bin/ibdriver extension uninstall"},
          {"updateCommand", "bin/ibdriver extension update"}, {"enableCommand", "bin/ibdriver extension enable"},
          {"disableCommand", "bin/ibdriver extension disable"}, {"rebootAfterInstall", false}, {"reportHeartbeat", true},
          {"updateMode", "UpdateWithInstall"}}}}});
  write_text(folder() / "HandlerManifest.json", manifest.dump());
}

std::string AzureAgent::make_certificate() const {
  fs::create_directories(waagent_folder());
  auto key = waagent_folder() / "new.prv";
  auto certificate = waagent_folder() / "new.crt";
  must_run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.string(), "-out",
            certificate.string(), "-subj", "/CN=Windows Azure CRP Certificate Generator", "-days", "2"});
  auto fingerprint = must_run({"openssl", "x509", "-in", certificate.string(), "-noout", "-fingerprint", "-sha1"}).out;
  std::string thumbprint;
  for (char c : fingerprint.substr(fingerprint.find('=') + 1)) {
    if (std::isxdigit(static_cast<unsigned char>(c)) != 0) thumbprint += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  fs::rename(key, waagent_folder() / (thumbprint + ".prv"));
  fs::rename(certificate, waagent_folder() / (thumbprint + ".crt"));
  return thumbprint;
}

std::string AzureAgent::encrypt(const std::string& plaintext, const std::string& thumbprint) const {
  auto input = waagent_folder() / "plain.json";
  auto output = waagent_folder() / "cipher.der";
  write_text(input, plaintext);
  must_run({"openssl", "cms", "-encrypt", "-binary", "-outform", "DER", "-aes256", "-in", input.string(), "-out",
            output.string(), (waagent_folder() / (thumbprint + ".crt")).string()});
  auto encoded = must_run({"openssl", "base64", "-A", "-in", output.string()}).out;
  fs::remove(input);
  fs::remove(output);
  return std::string(text::trim(encoded));
}

void AzureAgent::write_settings(int sequence, const nlohmann::json& public_settings,
                                const std::optional<nlohmann::json>& protected_settings,
                                const std::optional<std::string>& thumbprint) const {
  nlohmann::json handler{{"publicSettings", public_settings}};
  if (protected_settings) {
    if (!thumbprint) throw std::logic_error("protected settings need a certificate thumbprint");
    handler["protectedSettings"] = encrypt(protected_settings->dump(), *thumbprint);
    handler["protectedSettingsCertThumbprint"] = *thumbprint;
  }
  write_raw_settings(sequence, nlohmann::json{{"runtimeSettings", {{{"handlerSettings", handler}}}}}.dump());
}

void AzureAgent::write_raw_settings(int sequence, const std::string& text) const {
  write_text(folder() / "config" / fmt::format("{}.settings", sequence), text);
}

ProcessResult AzureAgent::run(const std::string& command, int sequence, const std::vector<std::string>& environment,
                              std::chrono::seconds deadline) const {
  ProcessOptions options;
  options.time_limit = deadline;  // the agent kills the command's whole process group
  options.kill_grace = std::chrono::milliseconds(0);
  options.working_directory = folder().string();
  options.extra_environment = {fmt::format("ConfigSequenceNumber={}", sequence),
                               fmt::format("AZURE_GUEST_AGENT_EXTENSION_PATH={}", seen(folder()).string()),
                               fmt::format("AZURE_GUEST_AGENT_EXTENSION_VERSION={}", version_),
                               "AZURE_GUEST_AGENT_WIRE_PROTOCOL_ADDRESS=168.63.129.16",
                               "AZURE_GUEST_AGENT_EXTENSION_SUPPORTED_FEATURES=[]"};
  if (!chroot_) {
    options.extra_environment.push_back(fmt::format("IBDRIVER_ROOT={}", root_.string()));
    options.extra_environment.push_back(fmt::format("IBDRIVER_WAAGENT_DIR={}", waagent_folder().string()));
  }
  options.extra_environment.insert(options.extra_environment.end(), environment.begin(), environment.end());
  std::string shell_command = "bin/ibdriver extension " + command;
  std::vector<std::string> argv{"/bin/sh", "-c", shell_command};
  if (chroot_) argv = {"chroot", root_.string(), "/bin/sh", "-c", fmt::format("cd '{}' && {}", seen(folder()).string(), shell_command)};
  // Through a shell, as the agent runs the manifest's command strings; whatever is left in the
  // command's process group afterwards is killed, as the agent kills the command's group and scope.
  ChildProcess child(argv, options);
  pid_t group = child.pid();
  auto result = child.wait();
  ::kill(-group, SIGKILL);
  return result;
}

std::optional<nlohmann::json> AzureAgent::status(int sequence) const {
  auto text = read_file_if_exists(status_file(sequence), 1 << 20);
  if (!text) return std::nullopt;
  auto parsed = nlohmann::json::parse(*text, nullptr, false);
  if (parsed.is_discarded()) throw std::runtime_error("the status file is not JSON: " + *text);
  return parsed;
}

nlohmann::json AzureAgent::wait_for_final_status(int sequence, std::chrono::seconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  nlohmann::json last;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto current = status(sequence)) {
      last = *current;
      auto state = last[0]["status"]["status"];
      if (state == "success" || state == "error") return last;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return last;
}

std::string status_shape_problems(const nlohmann::json& status) {
  std::vector<std::string> problems;
  auto message_ok = [&](const nlohmann::json& object, const std::string& where) {
    if (!object.contains("formattedMessage") || !object["formattedMessage"].is_object()) {
      problems.push_back(where + ": no formattedMessage object");
      return;
    }
    const auto& message = object["formattedMessage"];
    if (message.value("lang", "") != "en-US") problems.push_back(where + ": formattedMessage.lang is not en-US");
    if (!message.contains("message") || !message["message"].is_string()) {
      problems.push_back(where + ": formattedMessage.message is not a string");
    } else if (message["message"].get<std::string>().size() > 1024) {
      problems.push_back(where + ": message longer than 1 KB");
    }
  };
  auto state_ok = [&](const nlohmann::json& object, const std::string& where) {
    static const std::vector<std::string> states{"transitioning", "warning", "error", "success"};
    if (!object.contains("status") || !object["status"].is_string() ||
        std::find(states.begin(), states.end(), object["status"].get<std::string>()) == states.end()) {
      problems.push_back(where + ": status is not one of transitioning, warning, error, success");
    }
    if (!object.contains("code") || !object["code"].is_number_integer()) problems.push_back(where + ": code is not an integer");
    if (!object.contains("name") || !object["name"].is_string()) problems.push_back(where + ": no name");
    message_ok(object, where);
  };
  if (!status.is_array() || status.empty()) return "not a non-empty JSON array";
  const auto& entry = status[0];
  if (!entry.is_object()) return "the first element is not an object";
  if (!entry.contains("version") || !entry["version"].is_number() || entry["version"].get<double>() != 1.0) problems.emplace_back("version is not 1.0");
  static const std::regex utc(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)");
  if (!entry.contains("timestampUTC") || !entry["timestampUTC"].is_string() ||
      !std::regex_match(entry["timestampUTC"].get<std::string>(), utc)) {
    problems.emplace_back("timestampUTC is not YYYY-MM-DDTHH:MM:SSZ");
  }
  if (!entry.contains("status") || !entry["status"].is_object()) return "no status object";
  const auto& body = entry["status"];
  state_ok(body, "status");
  if (body.value("name", "") != AzureAgent::handler_name) problems.emplace_back("status.name is not the handler's name");
  static const std::vector<std::string> operations{"Install", "Enable", "Disable", "Uninstall", "Update"};
  if (!body.contains("operation") || !body["operation"].is_string() ||
      std::find(operations.begin(), operations.end(), body["operation"].get<std::string>()) == operations.end()) {
    problems.emplace_back("status.operation is not a handler operation");
  }
  if (!body.contains("substatus") || !body["substatus"].is_array()) {
    problems.emplace_back("status.substatus is not an array");
  } else {
    static const std::vector<std::string> stages{"detect", "resolve", "fetch", "unpack", "packages", "dkms", "configure", "load", "validate"};
    for (const auto& item : body["substatus"]) {
      state_ok(item, "substatus");
      if (item.contains("name") && item["name"].is_string() &&
          std::find(stages.begin(), stages.end(), item["name"].get<std::string>()) == stages.end()) {
        problems.push_back("substatus " + item["name"].get<std::string>() + " is not a stage name");
      }
    }
  }
  std::string joined;
  for (const auto& problem : problems) joined += (joined.empty() ? "" : "; ") + problem;
  return joined;
}

std::vector<std::string> files_containing(const fs::path& folder, const std::string& needle) {
  std::vector<std::string> found;
  std::error_code error;
  for (fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, error), end; !error && it != end;
       it.increment(error)) {
    if (!it->is_regular_file(error) || it->file_size(error) > (64U << 20U)) continue;
    if (file_text(it->path()).find(needle) != std::string::npos) found.push_back(it->path().string());
  }
  return found;
}

}  // namespace ibdriver::test
