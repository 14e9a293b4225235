#include "install/journal.hpp"

#include <algorithm>
#include <system_error>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/files.hpp"

namespace ibdriver::install {

namespace fs = std::filesystem;

namespace {

template <typename T>
void add_unique(std::vector<T>& list, const T& value) {
  if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
}

nlohmann::json optional_json(const std::optional<std::string>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

// Schema 1 (0.1.0) kept modules as a name -> version map (so in name order) with the kernels beside.
std::vector<JournaledModule> modules_from_schema1(const nlohmann::json& json) {
  std::vector<JournaledModule> modules;
  auto kernels = json.at("dkms_kernels").get<std::map<std::string, std::vector<std::string>>>();
  for (const auto& [name, version] : json.at("dkms_modules").get<std::map<std::string, std::string>>()) {
    modules.push_back({name, version, kernels.count(name) != 0 ? kernels.at(name) : std::vector<std::string>{}});
  }
  return modules;
}

}  // namespace

const JournaledModule* JournalRecord::module(const std::string& name) const {
  auto found = std::find_if(dkms_modules.begin(), dkms_modules.end(), [&](const auto& module) { return module.name == name; });
  return found == dkms_modules.end() ? nullptr : &*found;
}

bool JournalRecord::stage_done(const std::string& stage) const {
  auto found = stages.find(stage);
  return found != stages.end() && found->second.state == "done";
}

fs::path Journal::path(const SystemRoot& root) { return root.path("/var/lib/ibdriver/state.json"); }

void to_json(nlohmann::json& out, const JournalRecord& journal) {
  auto configuration = nlohmann::json::array();
  for (const auto& change : journal.configuration) {
    configuration.push_back({{"file", change.file}, {"action", change.action}, {"original", optional_json(change.original)}});
  }
  auto modules = nlohmann::json::array();
  for (const auto& module : journal.dkms_modules) {
    modules.push_back({{"name", module.name}, {"version", module.version}, {"kernels", module.kernels}});
  }
  auto replaced = nlohmann::json::array();
  for (const auto& package : journal.replaced) {
    replaced.push_back({{"name", package.name}, {"version", package.version}, {"architecture", package.architecture}, {"kept_file", package.kept_file}});
  }
  auto stages = nlohmann::json::object();
  for (const auto& [name, stage] : journal.stages) {
    stages[name] = {{"state", stage.state}, {"seconds", stage.seconds}};
    if (!stage.kernels.empty()) stages[name]["kernels"] = stage.kernels;
  }
  out = {{"schema", Journal::schema_version},
         {"release", {{"version", journal.release_version}, {"file", journal.release_file}, {"sha256", journal.sha256}, {"kind", journal.kind}}},
         {"bundle_dir", journal.bundle_dir},
         {"repository_files", journal.repository_files},
         {"packages", journal.packages},
         {"headers_packages", journal.headers_packages},
         {"replaced", replaced},
         {"profile", journal.profile},
         {"node", {{"ipoib", journal.ipoib}, {"nvidia_peermem", journal.nvidia_peermem}}},
         {"dkms_modules", modules},
         {"depmod_created", journal.depmod_created},
         {"build_trees", journal.build_trees},
         {"configuration", configuration},
         {"stages", stages}};
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

void to_json(nlohmann::json& out, const Journal& journal) { to_json(out, journal.record()); }

std::optional<Journal> Journal::load(const SystemRoot& root) {
  auto file = path(root);
  auto content = read_file_if_exists(file, 16 * 1024 * 1024);
  if (!content) return std::nullopt;
  return Journal(root, parse(*content, file.string()));
}

JournalRecord Journal::parse(std::string_view text, const std::string& origin) {
  const std::string move_away = "move it away to start over (uninstall then cannot know what to remove)";
  int schema = 0;
  try {
    auto json = nlohmann::json::parse(text.begin(), text.end());
    schema = json.at("schema").get<int>();
    if (schema > schema_version) {
      throw Error(ExitCode::operation_failed,
                  fmt::format("the journal {} has schema {}, newer than this ibdriver reads ({})", origin, schema, schema_version),
                  "use the ibdriver release that installed the drivers (or a newer one)");
    }
    if (schema < 1) throw Error(ExitCode::operation_failed, fmt::format("the journal {} has no valid schema ({})", origin, schema), move_away);
    JournalRecord journal;
    journal.schema = schema;
    journal.release_version = json.at("release").at("version").get<std::string>();
    journal.release_file = json.at("release").at("file").get<std::string>();
    journal.sha256 = json.at("release").at("sha256").get<std::string>();
    journal.kind = json.at("release").value("kind", std::string());
    journal.bundle_dir = json.at("bundle_dir").get<std::string>();
    journal.repository_files = json.at("repository_files").get<std::vector<std::string>>();
    journal.packages = json.at("packages").get<std::vector<std::string>>();
    journal.headers_packages = json.value("headers_packages", std::vector<std::string>{});
    journal.profile = json.at("profile").get<std::string>();
    journal.depmod_created = json.value("depmod_created", std::vector<std::string>{});
    journal.build_trees = json.value("build_trees", std::vector<std::string>{});
    for (const auto& package : json.value("replaced", nlohmann::json::array())) {
      journal.replaced.push_back({package.at("name").get<std::string>(), package.at("version").get<std::string>(),
                                  package.at("architecture").get<std::string>(), package.at("kept_file").get<std::string>()});
    }
    for (const auto& change : json.at("configuration")) {
      ConfigChange parsed{change.at("file").get<std::string>(), change.at("action").get<std::string>(), std::nullopt};
      if (!change.at("original").is_null()) parsed.original = change.at("original").get<std::string>();
      journal.configuration.push_back(parsed);
    }
    if (schema == 1) {
      journal.dkms_modules = modules_from_schema1(json);
      for (const auto& [name, state] : json.at("stages").get<std::map<std::string, std::string>>()) journal.stages[name] = {state, 0};
      // 0.1.0 stored the unpacked bundle as a host path (a bug) when --root was not "/": keep the
      // system path it always meant.
      auto marker = journal.bundle_dir.find("/var/lib/ibdriver/bundles/");
      if (marker != std::string::npos) journal.bundle_dir = journal.bundle_dir.substr(marker);
    } else {
      journal.ipoib = json.at("node").at("ipoib").get<bool>();
      journal.nvidia_peermem = json.at("node").value("nvidia_peermem", false);  // absent from older journals: never written
      for (const auto& module : json.at("dkms_modules")) {
        journal.dkms_modules.push_back({module.at("name").get<std::string>(), module.at("version").get<std::string>(),
                                        module.at("kernels").get<std::vector<std::string>>()});
      }
      for (const auto& [name, stage] : json.at("stages").items()) {
        journal.stages[name] = {stage.at("state").get<std::string>(), stage.at("seconds").get<double>(),
                                stage.value("kernels", std::map<std::string, double>{})};  // absent before per-kernel times
      }
    }
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
    throw Error(ExitCode::operation_failed, fmt::format("the journal {} (schema {}) is damaged: {}", origin, schema, error.what()),
                move_away);
  }
}

Journal Journal::begin(const SystemRoot& root, JournalRecord release) {
  release.schema = schema_version;
  Journal journal(root, std::move(release));
  journal.save();
  return journal;
}

void Journal::set_profile(const std::string& profile) {
  record_.profile = profile;
  save();
}

void Journal::set_node(bool ipoib, bool nvidia_peermem) {
  record_.ipoib = ipoib;
  record_.nvidia_peermem = nvidia_peermem;
  save();
}

void Journal::add_repository_files(const std::vector<std::string>& files) {
  for (const auto& file : files) add_unique(record_.repository_files, file);
  save();
}

void Journal::add_replaced(const std::vector<ReplacedPackage>& replaced) {
  for (const auto& package : replaced) {
    bool known = std::any_of(record_.replaced.begin(), record_.replaced.end(), [&](const auto& earlier) { return earlier.name == package.name; });
    if (!known) record_.replaced.push_back(package);
  }
  save();
}

void Journal::add_packages(const std::vector<std::string>& packages) {
  for (const auto& package : packages) add_unique(record_.packages, package);
  save();
}

void Journal::add_headers_packages(const std::vector<std::string>& packages) {
  for (const auto& package : packages) add_unique(record_.headers_packages, package);
  save();
}

void Journal::add_dkms_module(const std::string& name, const std::string& version) {
  if (record_.module(name) != nullptr) return;
  record_.dkms_modules.push_back({name, version, {}});
  save();
}

void Journal::add_dkms_kernel(const std::string& name, const std::string& kernel) {
  auto found = std::find_if(record_.dkms_modules.begin(), record_.dkms_modules.end(),
                            [&](const auto& module) { return module.name == name; });
  if (found == record_.dkms_modules.end()) {
    throw Error(ExitCode::operation_failed, fmt::format("DKMS module {} was built but never journaled", name));
  }
  add_unique(found->kernels, kernel);
  save();
}

void Journal::add_depmod_created(const std::string& kernel) {
  add_unique(record_.depmod_created, kernel);
  save();
}

void Journal::add_build_tree(const std::string& folder) {
  add_unique(record_.build_trees, folder);
  save();
}

void Journal::add_config_change(const ConfigChange& change) {
  bool known = std::any_of(record_.configuration.begin(), record_.configuration.end(),
                           [&](const auto& earlier) { return earlier.file == change.file; });
  if (!known) record_.configuration.push_back(change);
  save();
}

void Journal::set_signing(const std::string& key, const std::string& certificate, bool generated) {
  record_.mok_key = key;
  record_.mok_certificate = certificate;
  record_.mok_key_generated = record_.mok_key_generated || generated;
  save();
}

void Journal::mark_stage(const std::string& stage, double seconds, bool timing_only,
                         const std::vector<std::pair<std::string, double>>& kernels) {
  record_.stages[stage] = {timing_only ? "ran" : "done", seconds, {kernels.begin(), kernels.end()}};
  save();
}

void Journal::begin_repair(RepairRecord record) {
  record_.last_repair = std::move(record);
  save();
}

void Journal::finish_repair(const std::string& result) {
  if (record_.last_repair) record_.last_repair->result = result;
  save();
}

void Journal::save() const {
  auto file = path(root_);
  std::error_code error;
  fs::create_directories(file.parent_path(), error);
  write_file_atomically(file, nlohmann::json(record_).dump(2) + "\n", 0644);
}

void Journal::erase(const SystemRoot& root) {
  std::error_code error;
  fs::remove(path(root), error);
}

}  // namespace ibdriver::install
