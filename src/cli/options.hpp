#pragma once
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "core/system_root.hpp"
#include "pipeline/plan.hpp"

namespace ibdriver::cli {

// Options every command understands; each also reads its IBDRIVER_* environment variable, so the
// extension's fixed command strings can be pointed at a test root.
struct GlobalOptions {
  std::string root = "/";
  std::optional<std::string> sysfs_root;
  std::optional<std::string> log_file;
  bool verbose = false;
  bool quiet = false;
  bool json = false;

  SystemRoot system_root() const;
};

void add_global_options(CLI::App& app, GlobalOptions& options);

// Which of the shared options a command takes.
enum class OptionSet {
  detection,      // detect: checks, IMDS, catalog
  driver_choice,  // fetch: also --driver-version, --driver-url/--url, --sha256
  install_plan,   // plan, install: also --profile, --kernel, --ipoib
};

void add_plan_options(CLI::App& command, pipeline::PlanOptions& options, OptionSet set);

}  // namespace ibdriver::cli
