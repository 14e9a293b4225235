#pragma once
#include <functional>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/options.hpp"
#include "core/exit_code.hpp"

namespace ibdriver::cli {

// A subcommand: its CLI11 parser and what runs when it was chosen.
struct Command {
  CLI::App* parser = nullptr;
  std::function<ExitCode()> run;
};

Command add_detect_command(CLI::App& app, GlobalOptions& global);
Command add_plan_command(CLI::App& app, GlobalOptions& global);
Command add_fetch_command(CLI::App& app, GlobalOptions& global);

}  // namespace ibdriver::cli
