// `ibdriver extension install|enable|disable|uninstall|update`: the commands of HandlerManifest.json,
// run by the Azure guest agent. They take no arguments; overrides come from IBDRIVER_* variables.
#include <unistd.h>

#include <array>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "extension/handler.hpp"

namespace ibdriver::cli {
namespace {

extension::HandlerOptions handler_options(const GlobalOptions& global) {
  extension::HandlerOptions options;
  options.root = global.system_root();
  auto environment = options.environment;
  options.imds_url = environment("IBDRIVER_IMDS_URL");
  if (auto value = environment("IBDRIVER_WAAGENT_DIR")) options.waagent_folder = *value;
  if (auto value = environment("IBDRIVER_CA_BUNDLE")) options.ca_bundle = *value;
  if (auto value = environment("IBDRIVER_CATALOG")) options.catalog = *value;
  std::error_code error;
  options.executable = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw Error(ExitCode::operation_failed, "cannot find this program's own path in /proc/self/exe", "mount /proc");
  return options;
}

}  // namespace

Command add_extension_command(CLI::App& app, GlobalOptions& global) {
  struct State {
    std::optional<extension::Operation> operation;
    bool worker = false;
    int sequence = 0;
    std::optional<int> lock_fd;
  };
  auto state = std::make_shared<State>();
  auto* parser = app.add_subcommand("extension", "Azure VM extension handler commands (run by the Azure guest agent)");
  parser->require_subcommand(1);
  constexpr std::array<std::pair<const char*, extension::Operation>, 5> operations{{
      {"install", extension::Operation::install},
      {"enable", extension::Operation::enable},
      {"disable", extension::Operation::disable},
      {"uninstall", extension::Operation::uninstall},
      {"update", extension::Operation::update},
  }};
  for (const auto& [name, operation] : operations) {
    auto* command = parser->add_subcommand(name, std::string("The handler's ") + name + " command");
    command->callback([state, operation = operation] { state->operation = operation; });
  }
  auto* worker = parser->add_subcommand("worker", "The detached worker enable starts (internal)");
  worker->group("");  // hidden from help
  worker->add_option("--sequence", state->sequence, "Settings sequence number")->required()->check(CLI::NonNegativeNumber);
  worker->add_option("--lock-fd", state->lock_fd, "Inherited worker lock");
  worker->callback([state] { state->worker = true; });
  return {parser, [state, &global] {
            auto options = handler_options(global);
            if (state->worker) return extension::run_worker(options, state->sequence, state->lock_fd);
            return extension::run_operation(*state->operation, options);
          }};
}

}  // namespace ibdriver::cli
