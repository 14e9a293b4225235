#include "install/journal.hpp"

#include <system_error>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/files.hpp"

namespace ibdriver::install {

namespace fs = std::filesystem;

fs::path Journal::path(const SystemRoot& root) { return root.path("/var/lib/ibdriver/state.json"); }

void to_json(nlohmann::json& out, const Journal& journal) {
  auto configuration = nlohmann::json::array();
  for (const auto& change : journal.configuration) {
    configuration.push_back({{"file", change.file},
                             {"action", change.action},
                             {"original", change.original ? nlohmann::json(*change.original) : nlohmann::json(nullptr)}});
  }
  out = {{"schema", 1},
         {"release", {{"version", journal.release_version}, {"file", journal.release_file}, {"sha256", journal.sha256}}},
         {"bundle_dir", journal.bundle_dir},
         {"repository_files", journal.repository_files},
         {"packages", journal.packages},
         {"profile", journal.profile},
         {"dkms_modules", journal.dkms_modules},
         {"dkms_kernels", journal.dkms_kernels},
         {"depmod_created", journal.depmod_created},
         {"configuration", configuration},
         {"stages", journal.stages}};
  out["signing"] = journal.mok_key.empty() ? nlohmann::json(nullptr)
                                           : nlohmann::json{{"key", journal.mok_key},
                                                            {"certificate", journal.mok_certificate},
                                                            {"generated", journal.mok_key_generated}};
  out["last_repair"] = journal.last_repair ? nlohmann::json{{"kernel", journal.last_repair->kernel},
                                                            {"rebuilt", journal.last_repair->rebuilt},
                                                            {"result", journal.last_repair->result},
                                                            {"at", journal.last_repair->at}}
                                           : nlohmann::json(nullptr);
}

std::optional<Journal> Journal::load(const SystemRoot& root) {
  auto file = path(root);
  auto content = read_file_if_exists(file, 16 * 1024 * 1024);
  if (!content) return std::nullopt;
  return parse(*content, file.string());
}

Journal Journal::parse(std::string_view text, const std::string& origin) {
  try {
    auto json = nlohmann::json::parse(text.begin(), text.end());
    Journal journal;
    journal.release_version = json.at("release").at("version").get<std::string>();
    journal.release_file = json.at("release").at("file").get<std::string>();
    journal.sha256 = json.at("release").at("sha256").get<std::string>();
    journal.bundle_dir = json.at("bundle_dir").get<std::string>();
    journal.repository_files = json.at("repository_files").get<std::vector<std::string>>();
    journal.packages = json.at("packages").get<std::vector<std::string>>();
    journal.profile = json.at("profile").get<std::string>();
    journal.dkms_modules = json.at("dkms_modules").get<std::map<std::string, std::string>>();
    journal.dkms_kernels = json.at("dkms_kernels").get<std::map<std::string, std::vector<std::string>>>();
    journal.depmod_created = json.value("depmod_created", std::vector<std::string>{});
    for (const auto& change : json.at("configuration")) {
      ConfigChange parsed{change.at("file").get<std::string>(), change.at("action").get<std::string>(), std::nullopt};
      if (!change.at("original").is_null()) parsed.original = change.at("original").get<std::string>();
      journal.configuration.push_back(parsed);
    }
    journal.stages = json.at("stages").get<std::map<std::string, std::string>>();
    if (json.contains("signing") && !json.at("signing").is_null()) {
      const auto& signing = json.at("signing");
      journal.mok_key = signing.at("key").get<std::string>();
      journal.mok_certificate = signing.at("certificate").get<std::string>();
      journal.mok_key_generated = signing.value("generated", false);
    }
    if (json.contains("last_repair") && !json.at("last_repair").is_null()) {
      const auto& repair = json.at("last_repair");
      journal.last_repair = RepairRecord{repair.at("kernel").get<std::string>(),
                                         repair.at("rebuilt").get<std::vector<std::string>>(),
                                         repair.at("result").get<std::string>(), repair.at("at").get<std::string>()};
    }
    return journal;
  } catch (const nlohmann::json::exception& error) {
    throw Error(ExitCode::operation_failed, fmt::format("the journal {} is damaged: {}", origin, error.what()),
                "move it away to start over (uninstall then cannot know what to remove)");
  }
}

void Journal::save(const SystemRoot& root) const {
  auto file = path(root);
  std::error_code error;
  fs::create_directories(file.parent_path(), error);
  write_file_atomically(file, nlohmann::json(*this).dump(2) + "\n", 0644);
}

void Journal::erase(const SystemRoot& root) {
  std::error_code error;
  fs::remove(path(root), error);
}

}  // namespace ibdriver::install
