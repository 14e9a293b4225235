#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "archive/extract.hpp"
#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/log.hpp"

namespace ibdriver::cli {

void add_extraction_limits(CLI::App& command, archive::ExtractionLimits& limits) {
  command.add_option("--max-bytes", limits.max_total_bytes, "Refuse archives that unpack to more bytes than this")
      ->capture_default_str();
  command.add_option("--max-entries", limits.max_entries, "Refuse archives with more entries")->capture_default_str();
  command.add_option("--max-path", limits.max_path_length, "Refuse entry paths longer than this")->capture_default_str();
  command.add_option("--max-ratio", limits.max_ratio, "Refuse archives that expand more than this many times")
      ->capture_default_str();
}

nlohmann::json report_json(const archive::ExtractionReport& report) {
  return {{"entries", report.entries},     {"files", report.files},       {"directories", report.directories},
          {"symlinks", report.symlinks},   {"hardlinks", report.hardlinks}, {"bytes", report.bytes},
          {"compressed_bytes", report.compressed_bytes}, {"isal", report.isal}};
}

Command add_unpack_command(CLI::App& app, GlobalOptions& global) {
  struct State {
    std::string archive;
    std::string to;
    bool list = false;
    archive::ExtractionLimits limits;
  };
  auto state = std::make_shared<State>();
  auto* parser = app.add_subcommand("unpack", "Safely unpack a .tgz/.tar.*/.deb/.rpm into a fresh folder (staged, then renamed)");
  parser->add_option("archive", state->archive, "The archive")->required()->check(CLI::ExistingFile);
  auto* to = parser->add_option("--to", state->to, "The folder to create");
  parser->add_flag("--list", state->list, "Only list the entries (checked like an extraction)");
  parser->add_flag("--json", global.json, "Print the result as JSON");
  add_extraction_limits(*parser, state->limits);
  return {parser, [state, to, &global] {
            if (state->list) {
              archive::FileByteSource source(state->archive);
              auto entries = archive::list_archive(source, std::filesystem::path(state->archive).filename().string(),
                                                   state->limits);
              auto json = nlohmann::json::array();
              for (const auto& entry : entries) {
                if (global.json) {
                  json.push_back({{"path", entry.path}, {"type", std::string(1, entry.type)}, {"size", entry.size},
                                  {"link", entry.link_target}});
                } else {
                  fmt::print("{} {:>12} {}{}\n", entry.type, entry.size, entry.path,
                             entry.link_target.empty() ? "" : " -> " + entry.link_target);
                }
              }
              if (global.json) fmt::print("{}\n", json.dump(2));
              return ExitCode::success;
            }
            if (to->count() == 0) throw Error(ExitCode::usage, "unpack needs --to DIR (or --list)");
            auto report = archive::unpack_file(state->archive, state->to, state->limits);
            log::info(fmt::format("unpacked {} entries ({} bytes) into {}", report.entries, report.bytes, state->to));
            if (global.json) fmt::print("{}\n", report_json(report).dump(2));
            return ExitCode::success;
          }};
}

}  // namespace ibdriver::cli
