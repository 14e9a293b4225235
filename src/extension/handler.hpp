#pragma once
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/exit_code.hpp"
#include "core/system_root.hpp"
#include "extension/handler_environment.hpp"

namespace ibdriver::extension {

// The five commands of HandlerManifest.json.
enum class Operation { install, enable, disable, uninstall, update };
std::string_view operation_name(Operation operation);  // "Enable", as the status file names it

// What the fixed command strings cannot carry comes from the environment (DESIGN.md, "Roots and
// overrides"): IBDRIVER_ROOT, IBDRIVER_SYSFS_ROOT, IBDRIVER_IMDS_URL, IBDRIVER_WAAGENT_DIR,
// IBDRIVER_CA_BUNDLE, IBDRIVER_CATALOG.
struct HandlerOptions {
  SystemRoot root{"/"};
  std::optional<std::string> imds_url;
  std::optional<std::filesystem::path> waagent_folder;  // default <root>/var/lib/waagent
  std::optional<std::filesystem::path> ca_bundle;
  std::optional<std::filesystem::path> catalog;
  std::filesystem::path executable;  // this program, which the worker runs as `extension worker`
  EnvironmentLookup environment = process_environment();
  std::chrono::seconds stop_wait{60};  // how long disable waits for a worker to stop before killing it
};

// Runs one handler command the way the Azure guest agent expects: reads HandlerEnvironment.json and
// the settings, writes <statusFolder>/<seq>.status, logs to /var/log/azure/ib-vmext-status and the
// handler's logFolder, and returns the upstream exit code. `enable` checks the platform at once and
// hands the install to a detached worker.
ExitCode run_operation(Operation operation, const HandlerOptions& options);

// The detached worker: runs the install for `sequence`, reporting each stage in the status file, then
// success or error with the exit code. `lock_fd`: the worker lock handed over by `enable`.
ExitCode run_worker(const HandlerOptions& options, int sequence, std::optional<int> lock_fd);

}  // namespace ibdriver::extension
