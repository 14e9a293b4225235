#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "verbs/validate.hpp"

namespace ibdriver::cli {

void add_link_layer_option(CLI::App& command, verbs::LinkLayer& layer) {
  command
      .add_option_function<std::string>(
          "--expect-link-layer",
          [&layer](const std::string& text) {
            auto parsed = verbs::parse_link_layer(text);
            if (!parsed) throw CLI::ValidationError("--expect-link-layer", "expected infiniband, ethernet or any");
            layer = *parsed;
          },
          "Link layer an ACTIVE port must have: infiniband (default), ethernet or any")
      ->type_name("LAYER");
}

Command add_validate_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<verbs::ValidationOptions>();
  auto wait = std::make_shared<double>(30);
  auto* parser = app.add_subcommand("validate", "Check with libibverbs that an RDMA port is ACTIVE (exit 14 if not)");
  parser->add_flag("--json", global.json, "Print the devices, ports and verdict as JSON");
  add_link_layer_option(*parser, options->expect);
  parser->add_option("--wait", *wait, "Wait this long for ports still coming up (s, default 30)")->check(CLI::NonNegativeNumber);
  return {parser, [options, wait, &global] {
            options->wait = std::chrono::seconds(static_cast<long long>(*wait));
            auto report = verbs::validate(*options);
            if (global.json) {
              fmt::print("{}\n", nlohmann::json(report).dump(2));
            } else {
              for (const auto& device : report.devices) {
                fmt::print("{} (node GUID {}, firmware {})\n", device.name, device.node_guid, device.firmware);
                for (const auto& port : device.ports) {
                  fmt::print("  port {}: {} ({}) {} {}, LID {}, GUID {}\n", port.number, port.state, port.physical_state,
                             port.link_layer, port.rate, port.lid, port.port_guid);
                }
              }
            }
            verbs::require_passed(report);
            log::info(fmt::format("validated: {}", report.message));
            return ExitCode::success;
          }};
}

}  // namespace ibdriver::cli
