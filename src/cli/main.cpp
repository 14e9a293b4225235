// The ibdriver command: argument parsing and output only; the work is in the library.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/options.hpp"
#include "cli/text_report.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/version.hpp"

namespace {

using namespace ibdriver;

void setup_logging(const cli::GlobalOptions& options) {
  if (options.verbose) log::set_stderr_level(log::Level::debug);
  if (options.quiet) log::set_stderr_level(log::Level::error);
  auto file = options.log_file ? std::filesystem::path(*options.log_file)
                               : options.system_root().path("/var/log/ibdriver.log");
  log::open_log_file(file);
}

void print_error(const std::exception_ptr& error, ExitCode& code) {
  auto report = report_error(error);
  code = report.code;
  log::error(report.summary());
  for (const auto& link : report.chain) {
    if (!link.hint.empty()) {
      log::info(fmt::format("hint: {}", link.hint));
      break;
    }
  }
}

ExitCode finish(const platform::Check* failure, ExitCode code) {
  if (failure != nullptr) {
    log::error(fmt::format("{} check failed: {}", failure->name, failure->message));
    if (!failure->hint.empty()) log::info(fmt::format("hint: {}", failure->hint));
  }
  return code;
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

  pipeline::PlanOptions plan_options;
  auto* detect = app.add_subcommand("detect", "Report the platform: OS, kernels, VMBus, devices, Secure Boot, VM size");
  detect->add_flag("--json", global.json, "Print the report as JSON");
  cli::add_plan_options(*detect, plan_options, false);
  auto* plan = app.add_subcommand("plan", "Detect and choose the driver release; print what install would do");
  plan->add_flag("--json", global.json, "Print the plan as JSON");
  cli::add_plan_options(*plan, plan_options, true);
  for (auto* command : {detect, plan}) command->fallthrough();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? 0 : to_int(ExitCode::usage);
  }

  ExitCode code = ExitCode::success;
  try {
    setup_logging(global);
    auto root = global.system_root();
    if (detect->parsed()) {
      auto report = pipeline::detect(root, plan_options);
      if (global.json) {
        fmt::print("{}\n", nlohmann::json(report).dump(2));
      } else {
        cli::print_platform(stdout, report);
        cli::print_checks(stdout, report);
      }
      std::fflush(stdout);
      code = finish(report.first_failure(), report.exit_code());
    } else if (plan->parsed()) {
      auto result = pipeline::make_plan(root, plan_options);
      if (global.json) {
        fmt::print("{}\n", nlohmann::json(result).dump(2));
      } else {
        cli::print_plan(stdout, result);
      }
      std::fflush(stdout);
      if (result.exit_code != ExitCode::success) {
        log::error(result.failure);
        if (!result.failure_hint.empty()) log::info(fmt::format("hint: {}", result.failure_hint));
      }
      code = result.exit_code;
    }
  } catch (...) {
    print_error(std::current_exception(), code);
  }
  return to_int(code);
}
