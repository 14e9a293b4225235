#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "platform/loaded_driver.hpp"
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
      ->type_name("LAYER")
      // An environment default too: a first-boot recipe (cloud-init) runs a fixed command line.
      ->envname("IBDRIVER_EXPECT_LINK_LAYER");
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
            // Which driver was judged: the OFED build (it carries a version) or the kernel's own.
            auto drivers = platform::rdma_device_drivers(global.system_root());
            std::string judged;
            for (const auto& driver : drivers) judged += (judged.empty() ? "" : "; ") + driver.describe();
            if (global.json) {
              auto json = nlohmann::json(report);
              json["drivers"] = nlohmann::json::array();
              for (const auto& driver : drivers) {
                json["drivers"].push_back({{"device", driver.device}, {"module", driver.module}, {"version", driver.version}, {"ofed", driver.ofed()}});
              }
              fmt::print("{}\n", json.dump(2));
            } else {
              if (!judged.empty()) fmt::print("driver: {}\n", judged);
              for (const auto& device : report.devices) {
                fmt::print("{} (node GUID {}, firmware {})\n", device.name, device.node_guid, device.firmware);
                for (const auto& port : device.ports) {
                  fmt::print("  port {}: {} ({}) {} {}, LID {}, GUID {}\n", port.number, port.state, port.physical_state,
                             port.link_layer, port.rate, port.lid, port.port_guid);
                }
              }
            }
            verbs::require_passed(report);
            log::info(fmt::format("validated: {}{}", report.message, judged.empty() ? "" : fmt::format(" (driver: {})", judged)));
            return ExitCode::success;
          }};
}

}  // namespace ibdriver::cli
