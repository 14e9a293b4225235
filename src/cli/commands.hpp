#pragma once
#include <functional>
#include <vector>

#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include "archive/extraction_limits.hpp"
#include "archive/extract.hpp"
#include "cli/options.hpp"
#include "core/exit_code.hpp"
#include "verbs/validate.hpp"

namespace ibdriver::cli {

// A subcommand: its CLI11 parser and what runs when it was chosen.
struct Command {
  CLI::App* parser = nullptr;
  std::function<ExitCode()> run;
};

Command add_detect_command(CLI::App& app, GlobalOptions& global);
Command add_plan_command(CLI::App& app, GlobalOptions& global);
Command add_fetch_command(CLI::App& app, GlobalOptions& global);
Command add_unpack_command(CLI::App& app, GlobalOptions& global);
Command add_install_command(CLI::App& app, GlobalOptions& global);
Command add_status_command(CLI::App& app, GlobalOptions& global);
Command add_uninstall_command(CLI::App& app, GlobalOptions& global);
Command add_extension_command(CLI::App& app, GlobalOptions& global);
Command add_validate_command(CLI::App& app, GlobalOptions& global);
Command add_catalog_command(CLI::App& app, GlobalOptions& global);

// --expect-link-layer infiniband|ethernet|any (validate, install).
void add_link_layer_option(CLI::App& command, verbs::LinkLayer& layer);
Command add_repair_command(CLI::App& app, GlobalOptions& global);

// --max-bytes, --max-entries, --max-path, --max-ratio (unpack, fetch --unpack-to).
void add_extraction_limits(CLI::App& command, archive::ExtractionLimits& limits);
nlohmann::json report_json(const archive::ExtractionReport& report);

}  // namespace ibdriver::cli
