#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/remedy_text.hpp"
#include "cli/commands.hpp"
#include "cli/text_report.hpp"
#include "core/log.hpp"

namespace ibdriver::cli {

Command add_plan_command(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<pipeline::PlanOptions>();
  auto* parser = app.add_subcommand("plan", "Detect and choose the driver release; print what install would do");
  parser->add_flag("--json", global.json, "Print the plan as JSON");
  add_plan_options(*parser, *options, OptionSet::install_plan);
  return {parser, [options, &global] {
            auto plan = pipeline::make_plan(global.system_root(), *options);
            if (global.json) {
              fmt::print("{}\n", nlohmann::json(plan).dump(2));
            } else {
              print_plan(stdout, plan);
            }
            std::fflush(stdout);
            if (plan.exit_code != ExitCode::success) {
              log::error(plan.failure);
              auto hint = hint_with_flags(plan.failure_hint, plan.failure_remedies);
              if (!hint.empty()) log::info(fmt::format("hint: {}", hint));
            }
            return plan.exit_code;
          }};
}

}  // namespace ibdriver::cli
