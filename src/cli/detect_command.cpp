#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/remedy_text.hpp"
#include "cli/commands.hpp"
#include "cli/text_report.hpp"
#include "core/log.hpp"

namespace ibdriver::cli {

Command add_detect_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<pipeline::PlanOptions>();
  auto* parser = app.add_subcommand("detect", "Report the platform: OS, kernels, VMBus, devices, Secure Boot, VM size");
  parser->add_flag("--json", global.json, "Print the report as JSON");
  add_plan_options(*parser, *options, OptionSet::detection);
  return {parser, [options, &global] {
            auto report = pipeline::detect(global.system_root(), *options);
            if (global.json) {
              fmt::print("{}\n", nlohmann::json(report).dump(2));
            } else {
              print_platform(stdout, report);
              print_checks(stdout, report);
            }
            std::fflush(stdout);
            if (const auto* failure = report.first_failure()) {
              log::error(fmt::format("{} check failed: {}", failure->name, failure->message));
              auto hint = hint_with_flags(failure->hint, failure->remedies);
              if (!hint.empty()) log::info(fmt::format("hint: {}", hint));
            }
            return report.exit_code();
          }};
}

}  // namespace ibdriver::cli
