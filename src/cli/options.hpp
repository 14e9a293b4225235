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

// The detection and driver-choice options shared by detect, plan and (later) install.
void add_plan_options(CLI::App& command, pipeline::PlanOptions& options, bool driver_choice);

}  // namespace ibdriver::cli
