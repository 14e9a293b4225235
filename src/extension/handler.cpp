#include "extension/handler.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <csignal>
#include <cstring>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "catalog/channel.hpp"
#include "core/cancel.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/process.hpp"
#include "core/run_lock.hpp"
#include "core/text.hpp"
#include "core/version.hpp"
#include "extension/events.hpp"
#include "extension/protected_settings.hpp"
#include "extension/settings.hpp"
#include "extension/status.hpp"
#include "extension/worker.hpp"
#include "install/boot_unit.hpp"
#include "install/journal.hpp"
#include "pipeline/catalog_update.hpp"
#include "pipeline/install_stage.hpp"
#include "pipeline/plan.hpp"

namespace ibdriver::extension {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* upstream_log = "/var/log/azure/ib-vmext-status";
constexpr const char* update_marker = "/var/lib/ibdriver/extension-updating";

// Variables the worker needs from the agent's environment (the systemd path starts it afresh).
constexpr std::array<const char*, 16> carried_variables{
    "IBDRIVER_ROOT",     "IBDRIVER_SYSFS_ROOT", "IBDRIVER_IMDS_URL", "IBDRIVER_WAAGENT_DIR",
    "IBDRIVER_CA_BUNDLE", "IBDRIVER_CATALOG",   "AZURE_GUEST_AGENT_EXTENSION_PATH", "AZURE_GUEST_AGENT_EXTENSION_VERSION",
    "http_proxy",        "https_proxy",         "no_proxy",          "HTTP_PROXY",
    "HTTPS_PROXY",       "NO_PROXY",
    "SSL_CERT_FILE",     "SSL_CERT_DIR"};  // a CA store the agent's environment names (src/net/system_ca.hpp)

void open_logs(const SystemRoot& root, const HandlerContext& context) {
  std::error_code error;
  auto upstream = root.path(upstream_log);
  fs::create_directories(upstream.parent_path(), error);
  log::open_log_file(upstream);
  fs::create_directories(context.environment.log_folder, error);
  log::open_second_log_file(context.environment.log_folder / "ibdriver-extension.log");
}

ExtensionSettings load_settings(const HandlerContext& context, const HandlerOptions& options) {
  if (!context.settings_file) return {};
  auto runtime = read_runtime_settings(*context.settings_file);
  nlohmann::json protected_settings;
  if (!runtime.protected_settings.empty()) {
    auto folder = options.waagent_folder ? *options.waagent_folder : options.root.path("/var/lib/waagent");
    auto plaintext = decrypt_protected_settings(runtime.protected_settings, runtime.thumbprint, folder);
    protected_settings = nlohmann::json::parse(plaintext, nullptr, false);
    if (protected_settings.is_discarded()) {
      throw Error(ExitCode::usage, "the protected settings decrypt to something that is not JSON",
                  "give the protected settings as a JSON object");
    }
  }
  return parse_extension_settings(runtime.public_settings, protected_settings);
}

pipeline::InstallOptions install_options(const ExtensionSettings& settings, const HandlerOptions& options) {
  pipeline::InstallOptions install;
  auto& plan = install.fetch.plan;
  plan.detect.skip_vmbus_check = settings.skip_vmbus_check;
  plan.detect.skip_device_check = settings.skip_device_check;
  plan.detect.skip_os_check = settings.skip_os_check;
  plan.detect.skip_vm_size_check = settings.skip_vm_size_check;
  if (options.imds_url) plan.detect.imds.url = *options.imds_url;
  plan.catalog_overlay = options.catalog;
  plan.driver_version = settings.driver_version;
  plan.driver_url = settings.driver_url;
  plan.sha256 = settings.sha256;
  plan.profile = settings.profile;
  if (settings.ipoib) plan.ipoib = *settings.ipoib;
  install.fetch.mirrors = settings.mirror_urls;
  install.fetch.transfer.proxy = settings.proxy;
  install.fetch.transfer.extra_ca = options.ca_bundle;
  install.validate = settings.validate;
  install.install_headers = settings.install_headers;
  if (settings.expect_link_layer) install.validation.expect = *verbs::parse_link_layer(*settings.expect_link_layer);
  return install;
}

fs::path mrseq_file(const HandlerContext& context) { return context.extension_folder / "mrseq"; }

std::optional<int> read_mrseq(const HandlerContext& context) {
  auto text = read_file_if_exists(mrseq_file(context), 64);
  if (!text) return std::nullopt;
  return text::parse_decimal(*text);
}

std::string with_settings(const std::string& message, const std::string& hint, const Remedies& remedies) {
  std::string settings;
  for (const auto& remedy : remedies) {
    auto text = setting_for(remedy);
    if (text.empty()) continue;
    settings += settings.empty() ? text : " or " + text;
  }
  std::string advice = hint;
  if (!settings.empty()) advice = advice.empty() ? settings : fmt::format("{}; or {}", advice, settings);
  return advice.empty() ? message : fmt::format("{} (what to do: {})", message, advice);
}

std::string failure_message(const ErrorReport& report) {
  for (const auto& link : report.chain) {
    if (!link.hint.empty() || !link.remedies.empty()) return with_settings(report.summary(), link.hint, link.remedies);
  }
  return report.summary();
}

std::string extension_version(const HandlerOptions& options) {
  auto given = options.environment("AZURE_GUEST_AGENT_EXTENSION_VERSION");
  return given && !given->empty() ? *given : std::string(project_version());
}

// The status file of one operation: one substatus per stage, rewritten as the stages advance; a
// telemetry event for every stage that ends and every failure.
class StatusWriter {
 public:
  StatusWriter(const HandlerContext& context, Operation operation, const HandlerOptions& options)
      : context_(context), events_(context.environment.events_folder, extension_version(options)) {
    status_.name = context.environment.name;
    status_.operation = std::string(operation_name(operation));
  }

  // `code`: the exit code behind a warning or an error (0 otherwise).
  void stage(std::string_view name, StatusState state, const std::string& message, int code = 0) {
    auto found = std::find_if(status_.substatus.begin(), status_.substatus.end(), [&](const auto& s) { return s.name == name; });
    if (found == status_.substatus.end()) {
      status_.substatus.push_back({std::string(name), state, code, message});
    } else {
      found->state = state;
      found->code = code;
      found->message = message;
    }
    if (state == StatusState::success) events_.emit(fmt::format("{}.{}", status_.operation, name), EventLevel::informational, message);
    if (state == StatusState::warning) events_.emit(fmt::format("{}.{}", status_.operation, name), EventLevel::warning, message);
  }

  // `emit`: false to rewrite a status already reported (no second event for it).
  void write(StatusState state, int code, const std::string& message, bool emit = true) {
    status_.state = state;
    status_.code = code;
    status_.message = message;
    write_status(context_.environment.status_folder, context_.sequence, status_);
    if (emit && state == StatusState::success) events_.emit(status_.operation, EventLevel::informational, message);
    if (context_.manifest.report_heartbeat && context_.environment.heartbeat_file) {
      try {
        write_heartbeat(*context_.environment.heartbeat_file, state, code, message);
      } catch (const std::exception& error) {
        log::warning(fmt::format("cannot write the heartbeat: {}", error.what()));
      }
    }
  }

  // A failure: the stage that was running turns to error.
  void fail(ExitCode code, const std::string& message) {
    std::string failed_stage;
    for (auto& item : status_.substatus) {
      if (item.state == StatusState::transitioning) {
        item.state = StatusState::error;
        item.code = to_int(code);
        item.message = message;
        failed_stage = item.name;
      }
    }
    events_.emit(failed_stage.empty() ? status_.operation : fmt::format("{}.{}", status_.operation, failed_stage), EventLevel::error,
                 fmt::format("exit {}: {}", to_int(code), message));
    write(StatusState::error, to_int(code), message);
  }

  const std::string& message() const { return status_.message; }

 private:
  HandlerContext context_;
  HandlerStatus status_;
  EventWriter events_;
};

// Download progress into the status message, at most every few seconds.
class StatusProgress : public fetch::DownloadObserver {
 public:
  StatusProgress(StatusWriter& writer, std::string file) : writer_(writer), file_(std::move(file)) {}
  void on_progress(std::uint64_t bytes, std::optional<std::uint64_t> total) override {
    throw_if_cancelled("downloading");
    auto now = Clock::now();
    if (now - last_ < std::chrono::seconds(5)) return;
    last_ = now;
    auto text = total && *total > 0
                    ? fmt::format("downloading {}: {} of {} MB ({}%)", file_, bytes >> 20U, *total >> 20U, bytes * 100 / *total)
                    : fmt::format("downloading {}: {} MB", file_, bytes >> 20U);
    writer_.stage("fetch", StatusState::transitioning, text);
    writer_.write(StatusState::transitioning, 0, text);
  }

 private:
  StatusWriter& writer_;
  std::string file_;
  Clock::time_point last_{};
};

std::vector<std::string> worker_environment(const HandlerOptions& options) {
  std::vector<std::string> carried;
  for (const char* name : carried_variables) {
    if (auto value = options.environment(name)) carried.push_back(fmt::format("{}={}", name, *value));
  }
  return carried;
}

// Why the worker may pass where enable's quick check failed, or "" when it cannot: IMDS was not ready
// yet (410/429/5xx early in boot; enable asked once, the worker waits), or no catalog row served the
// OS while a catalogUrl may bring one (the worker updates the catalog before it plans).
std::string worker_may_pass(const platform::Check& check, const pipeline::Plan& plan, const ExtensionSettings& settings) {
  if (check.transient) {
    return fmt::format("{}: IMDS is not ready yet (it answers 410 early in boot); the worker asks again for up to {} s",
                       check.message, std::chrono::duration_cast<std::chrono::seconds>(platform::ImdsOptions{}.busy_budget).count());
  }
  // An identified OS whose check failed: the catalog's verdict (no row), not os-release's.
  if (settings.catalog_url && check.name == "os" && plan.platform.os) {
    return fmt::format("{}; the worker updates the catalog from {} first", check.message, text::redact_url(*settings.catalog_url));
  }
  return {};
}

// The reasons to leave the verdict to the worker, or nullopt when the plan failed for good.
std::optional<std::vector<std::string>> deferred_to_worker(const pipeline::Plan& plan, const ExtensionSettings& settings) {
  std::vector<std::string> reasons;
  for (const auto& check : plan.platform.checks) {
    if (check.state != platform::CheckState::failed) continue;
    auto reason = worker_may_pass(check, plan, settings);
    if (reason.empty()) return std::nullopt;
    reasons.push_back(reason);
  }
  if (reasons.empty()) {
    // The checks passed (or were skipped) and still no release: the catalog's verdict.
    if (!settings.catalog_url || plan.exit_code != ExitCode::os_not_supported) return std::nullopt;
    reasons.push_back(fmt::format("{}; the worker updates the catalog from {} first", plan.failure, text::redact_url(*settings.catalog_url)));
  }
  return reasons;
}

// What enable's foreground found: the exit code to end with when a check failed for good (else the
// worker goes on), and the release when one was resolved already.
struct ForegroundVerdict {
  std::optional<ExitCode> failed;
  std::string release;
};

// enable's foreground: the platform checks, but IMDS asked once (no busy wait) and no catalog update:
// whatever IMDS or the network does, enable returns within the agent's limit and the worker waits.
ForegroundVerdict check_platform(const HandlerOptions& options, const ExtensionSettings& settings, StatusWriter& status) {
  auto plan_options = install_options(settings, options).fetch.plan;
  plan_options.detect.imds.busy_budget = std::chrono::milliseconds(0);
  status.stage("detect", StatusState::transitioning, "checking the platform");
  auto plan = pipeline::make_plan(options.root, plan_options);
  if (plan.exit_code == ExitCode::success && plan.resolution) {
    status.stage("detect", StatusState::success, "platform supported");
    const auto& release = plan.resolution->release;
    log::info(fmt::format("resolved {} from {}", release.file_name(), text::redact_url(release.url)));
    status.stage("resolve", StatusState::success, fmt::format("{} {}", release.file_name(), release.version));
    return {std::nullopt, release.file_name()};
  }
  if (auto reasons = deferred_to_worker(plan, settings)) {
    auto message = fmt::format("{}", fmt::join(*reasons, "; "));
    log::info(message);
    status.stage("detect", StatusState::transitioning, message);
    return {};
  }
  auto code = plan.exit_code == ExitCode::success ? ExitCode::os_not_supported : plan.exit_code;
  auto message = with_settings(plan.failure, plan.failure_hint, plan.failure_remedies);
  log::error(message);
  status.fail(code, message);
  return {code, {}};
}

ExitCode enable(const HandlerContext& context, const HandlerOptions& options, const ExtensionSettings& settings, StatusWriter& status) {
  if (worker_running(context.extension_folder)) {
    log::info("an extension worker is already installing the drivers: not starting another");
    return ExitCode::success;
  }
  if (read_mrseq(context) == context.sequence) {
    // Enable runs again after every reboot: with these settings done before, only check.
    auto health = pipeline::installation_status(options.root);
    if (health.healthy()) {
      auto message = fmt::format("{} is installed and healthy for {}", health.journal->release_file, fmt::join(health.kernels, ", "));
      log::info(message);
      status.write(StatusState::success, 0, message);
      return ExitCode::success;
    }
    log::info(fmt::format("settings {} were applied before, but: {}; repairing", context.sequence, fmt::join(health.missing, "; ")));
  }
  auto verdict = check_platform(options, settings, status);
  if (verdict.failed) return *verdict.failed;

  auto lock = WorkerLock::try_acquire(context.extension_folder);
  if (!lock) {
    log::info("an extension worker is already installing the drivers: not starting another");
    return ExitCode::success;
  }
  WorkerLock::forget_pid(context.extension_folder);  // left by an earlier worker
  auto message = verdict.release.empty() ? std::string("installing the drivers in the background")
                                         : fmt::format("installing {} in the background", verdict.release);
  status.write(StatusState::transitioning, 0, message);
  WorkerLaunch launch;
  launch.argv = {options.executable.string(), "extension", "worker", fmt::format("--sequence={}", context.sequence)};
  launch.environment = worker_environment(options);
  launch.output = context.environment.log_folder / "worker.out";
  launch.use_systemd = systemd_runs(options.root);
  start_worker(launch, *lock);
  log::info(fmt::format("{}: the worker reports in {}", message, (context.environment.status_folder / fmt::format("{}.status", context.sequence)).string()));
  return ExitCode::success;
}

// What the catalog update said: shown in the "resolve" substatus beside the release (a warning, with
// the catalog error's exit code, when it failed).
struct CatalogNote {
  std::string message;
  int code = 0;  // 0: updated (or already current)
};

// The worker's first step with a catalogUrl: the signed channel updated from it (TLS verified, signature
// checked, no rollback). A failed update is a warning with the catalog error's exit code and message,
// and the worker goes on with the cached channel or the built-in rows: a publisher's outage must not
// stop a fleet's installs (README, "Extension settings"). Only the install that follows uses the new
// rows, and it keeps an installed release unless one is pinned.
CatalogNote update_catalog_channel(const HandlerOptions& options, const ExtensionSettings& settings, StatusWriter& status) {
  pipeline::CatalogUpdateOptions update;
  update.url = *settings.catalog_url;
  update.ca_bundle = options.ca_bundle;
  for (const auto& pem : settings.catalog_keys) update.extra_trusted.push_back(catalog::trusted_key_from_pem(pem, "the catalogKey setting"));
  const auto shown = text::redact_url(update.url);
  status.stage("resolve", StatusState::transitioning, fmt::format("updating the catalog from {}", shown));
  try {
    auto result = pipeline::update_catalog(options.root, update);
    for (const auto& note : result.notes) log::warning(note);
    CatalogNote note{fmt::format("{} catalog serial {} from {} ({} releases, signed by {})", result.changed ? "stored" : "already had",
                                 result.serial, shown, result.releases, result.key)};
    log::info(note.message);
    return note;
  } catch (...) {
    auto report = report_error(std::current_exception());
    std::string fallback = "the built-in catalog";
    try {
      if (auto stored = catalog::read_stored_channel(catalog::channel_store_path(options.root))) {
        fallback = fmt::format("the stored catalog serial {} and the built-in one", stored->serial);
      }
    } catch (const Error& error) {
      log::warning(error.what());
    }
    CatalogNote note{fmt::format("the catalog update failed (exit {}): {}; going on with {}", to_int(report.code), failure_message(report), fallback),
                     to_int(report.code)};
    log::warning(note.message);
    status.stage("resolve", StatusState::warning, note.message, note.code);
    return note;
  }
}

ExitCode disable(const HandlerContext& context, const HandlerOptions& options, StatusWriter& status) {
  bool stopped = stop_worker(context.extension_folder, systemd_runs(options.root), options.stop_wait);
  auto message = stopped ? "stopped the running install; the next enable resumes it" : "nothing was running";
  log::info(fmt::format("disable: {}", message));
  status.write(StatusState::success, 0, message);
  return ExitCode::success;
}

ExitCode uninstall(const HandlerContext& context, const HandlerOptions& options, const ExtensionSettings& settings, StatusWriter& status) {
  stop_worker(context.extension_folder, systemd_runs(options.root), options.stop_wait);
  std::error_code error;
  auto marker = options.root.path(update_marker);
  bool updating = fs::exists(marker, error);
  fs::remove(marker, error);
  std::string message;
  if (updating) {
    message = "the extension is being updated: the drivers stay installed";
  } else if (settings.uninstall_drivers) {
    auto removed = pipeline::run_uninstall(options.root, std::chrono::seconds(240));
    message = removed ? fmt::format("removed {}", removed->release_file) : "no drivers were installed";
  } else {
    message = "the drivers stay installed (set \"uninstallDrivers\": true to remove them with the extension)";
  }
  log::info(fmt::format("uninstall: {}", message));
  status.write(StatusState::success, 0, message);
  return ExitCode::success;
}

ExitCode update(const HandlerContext& context, const HandlerOptions& options, StatusWriter& status) {
  // Old disable, new update, old uninstall, new install, new enable: the old uninstall must keep the
  // drivers, and the new enable must know which settings were already applied.
  auto marker = options.root.path(update_marker);
  std::error_code error;
  fs::create_directories(marker.parent_path(), error);
  write_file_atomically(marker, fmt::format("{}\n", options.environment("AZURE_GUEST_AGENT_UPDATING_FROM_VERSION").value_or("?")));
  std::string message = "updated; the drivers stay installed";
  if (auto from = options.environment("AZURE_GUEST_AGENT_UPDATING_FROM_VERSION"); from && !from->empty() && from->find('/') == std::string::npos) {
    auto old_folder = context.extension_folder.parent_path() / fmt::format("{}-{}", context.environment.name, *from);
    if (auto old_mrseq = read_file_if_exists(old_folder / "mrseq", 64)) {
      write_file_atomically(mrseq_file(context), *old_mrseq);
      message = fmt::format("updated from {}; settings {} carried over", *from, std::string(text::trim(*old_mrseq)));
    }
  }
  // The boot-time repair must not run a binary from a folder the agent deletes after this update: the
  // kept copy is refreshed from this version (a unit an earlier version pointed into its folder moves to it).
  if (install::Journal::load(options.root)) {
    RunLock lock(options.root.path("/run/ibdriver.lock"), std::chrono::seconds(120));
    auto journal = install::Journal::load(options.root);
    if (journal && install::refresh_boot_program(options.root, [&](const install::ConfigChange& change) { journal->add_config_change(change); })) {
      message += fmt::format("; the boot-time repair runs {}", install::kept_binary);
    }
  }
  log::info(message);
  status.write(StatusState::success, 0, message);
  return ExitCode::success;
}

void on_terminate(int /*signal*/) { request_cancel(); }

// The agent makes the folders HandlerEnvironment.json names before it runs a command: one that does not
// exist means the file was not written by it (or the folder was removed).
void require_folder(const fs::path& folder, std::string_view key, const fs::path& extension_folder) {
  std::error_code error;
  if (fs::is_directory(folder, error)) return;
  throw Error(ExitCode::usage,
              fmt::format("{}/HandlerEnvironment.json names {} {}, which does not exist", extension_folder.string(), key, folder.string()),
              "the Azure guest agent creates this folder when it installs the extension: remove the extension and add it again");
}

}  // namespace

std::string_view operation_name(Operation operation) {
  switch (operation) {
    case Operation::install: return "Install";
    case Operation::enable: return "Enable";
    case Operation::disable: return "Disable";
    case Operation::uninstall: return "Uninstall";
    case Operation::update: return "Update";
  }
  return "Enable";
}

ExitCode run_operation(Operation operation, const HandlerOptions& options) {
  auto context = locate_handler(options.environment);  // outside a handler folder: exit 1, no status to write
  require_folder(context.environment.status_folder, "statusFolder", context.extension_folder);  // nowhere for a status: stderr
  open_logs(options.root, context);
  log::info(fmt::format("extension {} {} (settings {})", context.environment.name, operation_name(operation), context.sequence));
  StatusWriter status(context, operation, options);
  try {
    require_folder(context.environment.config_folder, "configFolder", context.extension_folder);
    ExtensionSettings settings;
    try {
      settings = load_settings(context, options);
    } catch (const Error& error) {
      // Broken settings must not keep a user from stopping or removing the extension.
      if (operation == Operation::install || operation == Operation::enable) throw;
      log::warning(fmt::format("ignoring the settings: {}", error.what()));
    }
    switch (operation) {
      case Operation::install: {
        std::error_code error;
        fs::remove(options.root.path(update_marker), error);
        log::info("install: ready; enable installs the drivers");
        return ExitCode::success;
      }
      case Operation::enable: return enable(context, options, settings, status);
      case Operation::disable: return disable(context, options, status);
      case Operation::uninstall: return uninstall(context, options, settings, status);
      case Operation::update: return update(context, options, status);
    }
  } catch (...) {
    auto report = report_error(std::current_exception());
    auto message = failure_message(report);
    log::error(message);
    try {
      status.fail(report.code, message);
    } catch (...) {
      log::error(report_error(std::current_exception()).summary());
      return ExitCode::operation_failed;
    }
    return report.code;
  }
  return ExitCode::usage;
}

namespace {

// rebootIfRequired: the reboot the worker made for one sequence number, and the boot it was asked
// from. Kept outside the extension's folder, which an update replaces.
constexpr const char* reboot_record_file = "/var/lib/ibdriver/extension-reboot.json";

struct RebootRecord {
  int sequence = -1;
  std::string boot_id;
};

std::optional<RebootRecord> read_reboot_record(const SystemRoot& root) {
  auto text = read_file_if_exists(root.path(reboot_record_file), 4096);
  if (!text) return std::nullopt;
  auto json = nlohmann::json::parse(*text, nullptr, false);
  if (!json.is_object() || !json.contains("sequence") || !json["sequence"].is_number_integer() || !json.contains("boot_id") ||
      !json["boot_id"].is_string()) {
    log::warning(fmt::format("{} is not a reboot record: ignored", reboot_record_file));
    return std::nullopt;
  }
  return RebootRecord{json["sequence"].get<int>(), json["boot_id"].get<std::string>()};
}

void write_reboot_record(const SystemRoot& root, const RebootRecord& record) {
  auto file = root.path(reboot_record_file);
  std::error_code error;
  fs::create_directories(file.parent_path(), error);
  write_file_atomically(file, nlohmann::json{{"sequence", record.sequence}, {"boot_id", record.boot_id}}.dump() + "\n", 0644);
}

// The kernel's id of this boot (a new one after every reboot); "" when it cannot be read.
std::string boot_id(const SystemRoot& root) {
  return std::string(text::trim(read_file_if_exists(root.path("/proc/sys/kernel/random/boot_id"), 128).value_or("")));
}

// systemd's reboot (the worker may itself be a transient unit), else shutdown(8). Never on a root that
// is not "/" (a test's fake root): that is logged instead.
void request_reboot(const SystemRoot& root) {
  if (!root.is_host_root()) {
    log::info(fmt::format("not rebooting: the system root is {}, not /", root.root().string()));
    return;
  }
  std::vector<std::string> argv = systemd_runs(root) ? std::vector<std::string>{"systemctl", "reboot"}
                                                     : std::vector<std::string>{"shutdown", "-r", "now"};
  ProcessOptions process;
  process.time_limit = std::chrono::seconds(60);
  auto result = run_process(argv, process);
  if (!result.succeeded()) {
    throw Error(ExitCode::operation_failed, fmt::format("{} {}: {}", format_command(argv), result.describe_end(), result.tail(3)),
                "reboot the machine to load the installed driver");
  }
}

}  // namespace

ExitCode run_worker(const HandlerOptions& options, int sequence, std::optional<int> lock_fd) {
  std::signal(SIGTERM, on_terminate);
  std::signal(SIGINT, on_terminate);
  std::signal(SIGHUP, SIG_IGN);  // the agent's session is gone; only disable stops us
  auto context = locate_handler(options.environment, sequence);
  open_logs(options.root, context);
  auto lock = lock_fd ? WorkerLock::adopt(*lock_fd) : WorkerLock::acquire(context.extension_folder, std::chrono::seconds(60));
  lock.write_pid(context.extension_folder);
  StatusWriter status(context, Operation::enable, options);
  log::info(fmt::format("extension worker for settings {} started", sequence));
  struct ForgetPid {
    const fs::path& folder;
    ~ForgetPid() { WorkerLock::forget_pid(folder); }
  } forget{context.extension_folder};
  try {
    auto settings = load_settings(context, options);
    auto install = install_options(settings, options);
    CatalogNote catalog_note;
    std::map<std::string, std::chrono::steady_clock::time_point, std::less<>> started;
    std::optional<std::string> ready_message;  // set once the running kernel is ready (on_ready)
    install.on_stage = [&](std::string_view stage, pipeline::StageEvent event, const std::string& stage_message) {
      auto state = event == pipeline::StageEvent::started  ? StatusState::transitioning
                   : event == pipeline::StageEvent::failed ? StatusState::error
                                                           : StatusState::success;
      auto message = stage_message;
      // A stage that ran says how long it took (what a fleet operator compares between nodes).
      if (event == pipeline::StageEvent::started) started[std::string(stage)] = std::chrono::steady_clock::now();
      if (auto begun = started.find(stage); event == pipeline::StageEvent::done && begun != started.end()) {
        message += fmt::format(" ({:.1f} s)", std::chrono::duration<double>(std::chrono::steady_clock::now() - begun->second).count());
      }
      if (stage == "resolve" && !catalog_note.message.empty()) {
        // The catalog update stays in sight beside the release it led to (a warning when it failed).
        status.stage(stage, catalog_note.code == 0 ? state : StatusState::warning, fmt::format("{}; {}", message, catalog_note.message),
                     catalog_note.code);
      } else {
        status.stage(stage, state, message);
      }
      if (ready_message) {
        status.write(StatusState::success, 0, *ready_message, false);  // the node stays reported ready (one event)
      } else {
        status.write(StatusState::transitioning, 0, message);
      }
    };
    // Ready on the running kernel while the dkms stage goes on for the others: success is reported now
    // (a reboot this enable makes itself waits for the end), the "dkms" substatus follows the rest.
    install.on_ready = [&](const pipeline::ReadyReport& ready) {
      if (ready.reboot_required && settings.reboot_if_required) return;
      auto text = fmt::format("the driver is ready on the running kernel {}{}; building it for {} goes on (see the dkms substatus)", ready.kernel,
                              ready.reboot_required ? " after a reboot (reboot required)"
                              : ready.validation.empty() ? std::string{}
                                                         : fmt::format(": {}", ready.validation),
                              fmt::join(ready.building, ", "));
      log::info(text);
      ready_message = text;
      status.write(StatusState::success, 0, text);
    };
    // IMDS may answer 410 for a while after boot: enable did not wait, the worker does, and says so.
    install.fetch.plan.detect.imds.on_wait = [&](const std::string& failure, std::chrono::milliseconds wait) {
      auto text = fmt::format("waiting for IMDS: {}; asking again in {} s", failure, (wait.count() + 999) / 1000);
      log::info(text);
      status.stage("detect", StatusState::transitioning, text);
      status.write(StatusState::transitioning, 0, text);
    };
    if (settings.catalog_url) catalog_note = update_catalog_channel(options, settings, status);
    StatusProgress progress(status, "the driver bundle");
    // The worker is its own command: it detects and resolves once, then installs what it planned.
    status.stage("detect", StatusState::transitioning, "checking the platform");
    auto plan = pipeline::plan_install(options.root, install);
    if (!plan.resolution && catalog_note.code != 0) plan.failure += fmt::format(" ({})", catalog_note.message);
    auto result = pipeline::run_install(options.root, plan, install, progress);
    auto message = result.nothing_to_do
                       ? fmt::format("{} was already installed and healthy", result.journal->release_file)
                       : fmt::format("installed {} ({}) in {:.0f} s", result.journal->release_file, fmt::join(result.stages, ", "), result.seconds);
    // The node works on its running kernel: a kernel it may boot later is the dkms substatus's error,
    // and the boot-time repair builds it if that kernel boots.
    if (result.deferred_failure) message += fmt::format("; {} (see the dkms substatus)", result.deferred_failure->what());
    auto record = read_reboot_record(options.root);
    bool rebooted_for_this = record && record->sequence == sequence;
    auto boot = boot_id(options.root);
    if (rebooted_for_this && record->boot_id == boot) {
      // This boot is the one the reboot was asked from (it has not happened yet): nothing more to do now.
      message = fmt::format("{}; waiting for the reboot asked for settings {} (rebootIfRequired)", message, sequence);
      log::info(message);
      status.write(StatusState::transitioning, 0, message);
      return ExitCode::success;
    }
    bool reboot_required = result.reboot_required || (result.nothing_to_do && pipeline::installation_status(options.root).reboot_required);
    if (reboot_required) {
      if (rebooted_for_this) {
        throw Error(ExitCode::operation_failed,
                    fmt::format("{}, but the installed driver still does not run after the reboot made for settings {} (boot {}): "
                                "not rebooting twice for one sequence number",
                                message, sequence, record->boot_id),
                    "see `ibdriver status` and `dmesg`: the running kernel may have no build of the driver");
      }
      if (!settings.reboot_if_required) {
        message += settings.validate ? "; reboot required: the installed driver runs after a reboot (validation deferred until then; "
                                       "rebootIfRequired: true reboots by itself)"
                                     : "; reboot required: the installed driver runs after a reboot (rebootIfRequired: true reboots by itself)";
        write_file_atomically(mrseq_file(context), fmt::format("{}\n", sequence));
        log::info(message);
        status.write(StatusState::success, 0, message);
        return ExitCode::success;
      }
      // Recorded before the reboot: the enable after it validates, and never reboots again for this sequence.
      write_reboot_record(options.root, {sequence, boot});
      message += "; rebooting now to load the installed driver (rebootIfRequired); the enable after the reboot validates it";
      log::info(message);
      status.write(StatusState::transitioning, 0, message);
      request_reboot(options.root);
      return ExitCode::success;
    }
    if (rebooted_for_this) {
      auto validated = settings.validate ? pipeline::validate_running_driver(options.root, install.validation)
                                         : std::string("validation skipped (\"validate\": false)");
      message = fmt::format("{}; after the reboot for settings {}: {}", message, sequence, validated);
    }
    write_file_atomically(mrseq_file(context), fmt::format("{}\n", sequence));
    log::info(message);
    status.write(StatusState::success, 0, message);
    return ExitCode::success;
  } catch (...) {
    auto report = report_error(std::current_exception());
    auto message = failure_message(report);
    log::error(message);
    status.fail(report.code, message);
    return report.code;
  }
}

}  // namespace ibdriver::extension
