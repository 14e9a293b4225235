// The ibdriver command: argument parsing and output only; the work is in the library.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/version.hpp"
#include "cli/remedy_text.hpp"

namespace {

using namespace ibdriver;

void setup_logging(const cli::GlobalOptions& options) {
  if (options.verbose) log::set_stderr_level(log::Level::debug);
  if (options.quiet) log::set_stderr_level(log::Level::error);
  auto file = options.log_file ? std::filesystem::path(*options.log_file)
                               : options.system_root().path("/var/log/ibdriver.log");
  log::open_log_file(file);
}

// Prints the error chain once (outermost first) with the first hint, and returns its exit code.
ExitCode report(const std::exception_ptr& error) {
  auto report = report_error(error);
  log::error(report.summary());
  for (const auto& link : report.chain) {
    if (!link.hint.empty() || !link.remedies.empty()) {
      log::info(fmt::format("hint: {}", cli::hint_with_flags(link.hint, link.remedies)));
      break;
    }
  }
  return report.code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ibdriver: InfiniBand drivers (MLNX_OFED / DOCA-OFED) for Azure HPC VMs", "ibdriver"};
  app.require_subcommand(1);
  app.set_version_flag("--version", fmt::format("ibdriver {} (git {})", project_version(), git_revision()));
  app.footer("Exit codes: 0 success, 1 usage, 10 no VMBus, 11 no InfiniBand device, 12 OS not supported,\n"
             "13 VM size not supported, 14 operation failed. See `man ibdriver` and the README.");

  cli::GlobalOptions global;
  cli::add_global_options(app, global);
  std::vector<cli::Command> commands{cli::add_detect_command(app, global), cli::add_plan_command(app, global),
                                     cli::add_fetch_command(app, global), cli::add_unpack_command(app, global), cli::add_install_command(app, global),
                                     cli::add_status_command(app, global), cli::add_uninstall_command(app, global),
                                     cli::add_validate_command(app, global), cli::add_extension_command(app, global)};
  commands.push_back(cli::add_repair_command(app, global));
  commands.push_back(cli::add_catalog_command(app, global));
  for (auto& command : commands) command.parser->fallthrough();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? 0 : to_int(ExitCode::usage);
  }

  try {
    setup_logging(global);
    for (auto& command : commands) {
      if (command.parser->parsed()) return to_int(command.run());
    }
  } catch (...) {
    return to_int(report(std::current_exception()));
  }
  return to_int(ExitCode::usage);
}
