#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/remedy_text.hpp"
#include "core/service_notify.hpp"
#include "pipeline/repair.hpp"

namespace ibdriver::cli {

Command add_repair_command(CLI::App& app, GlobalOptions& global) {
  struct State {
    pipeline::RepairOptions options;
    std::optional<std::string> kernel;
    bool no_load = false;
    double lock_wait = 600;
    std::optional<double> ready_after;
  };
  auto state = std::make_shared<State>();
  auto* parser = app.add_subcommand(
      "repair", "Build (DKMS) and load the installed drivers' modules for the running kernel if it lacks them (run at boot)");
  parser->add_flag("--json", global.json, "Print the result as JSON");
  parser->add_option("--kernel", state->kernel, "Check and build for this kernel instead of the running one");
  parser->add_flag("--no-load", state->no_load, "Build only; do not load the modules");
  parser->add_flag("--install-headers", state->options.install_headers,
                   "Install the kernel's headers package when it has none (uninstall removes it)");
  parser->add_option("--lock-wait", state->lock_wait, "Wait this long for another ibdriver run (s)")->check(CLI::NonNegativeNumber);
  parser->add_option("--jobs", state->options.dkms.jobs, "Parallel make jobs for DKMS (default: all processors)");
  parser->add_option("--ready-after", state->ready_after,
                     "Under systemd (Type=notify, the boot unit): tell it the boot may go on after this many seconds, or when done "
                     "if sooner; a longer build goes on and loads the modules when it is finished (s)")
      ->check(CLI::Range(0.0, 86400.0));
  return {parser, [state, &global] {
            auto& options = state->options;
            options.kernel = state->kernel;
            options.load = !state->no_load;
            options.lock_wait = std::chrono::seconds(static_cast<long long>(state->lock_wait));
            // The boot waits for this unit (Before=network-pre.target): a long build must not keep the
            // node without its network, so readiness has a bound and the build goes on behind it.
            std::optional<BoundedReadiness> readiness;
            if (state->ready_after) {
              readiness.emplace(std::chrono::seconds(static_cast<long long>(std::ceil(*state->ready_after))),
                                "still building the InfiniBand modules for the running kernel; they are loaded when built");
            }
            auto result = pipeline::run_repair(global.system_root(), options);
            if (readiness && readiness->bound_passed() && !result.loaded.empty()) {
              // The boot went on without the driver: openibd or udev may have loaded the inbox one meanwhile.
              result.message += "; built after the boot went on: where openibd had loaded the inbox driver meanwhile, the "
                                "rebuilt one runs after `systemctl restart openibd` or the next boot";
            }
            if (readiness) readiness->ready(result.message);
            if (global.json) {
              fmt::print("{}\n", nlohmann::json(result).dump(2));
            } else {
              fmt::print("{}\n", result.message);
              for (const auto& kernel : result.kernels_missing_headers) {
                fmt::print("note: kernel {} is installed without headers, so it has no driver: install {}, or pass {} "
                           "(repair --kernel {}, or install)\n",
                           kernel.kernel, kernel.package, flag_for({Knob::install_headers, {}}), kernel.kernel);
              }
            }
            return ExitCode::success;
          }};
}

}  // namespace ibdriver::cli
