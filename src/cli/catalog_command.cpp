// `ibdriver catalog update [--from URL]` and `ibdriver catalog show`: the signed catalog channel.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "catalog/catalog.hpp"
#include "catalog/channel.hpp"
#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "pipeline/catalog_update.hpp"

#ifndef IBDRIVER_CATALOG_URL
#define IBDRIVER_CATALOG_URL ""
#endif

namespace ibdriver::cli {

namespace {

nlohmann::json release_json(const catalog::DriverRelease& release) {
  return {{"origin", release.origin},
          {"kind", std::string(to_string(release.kind))},
          {"arch", release.arch},
          {"version", release.version},
          {"os", {{"id", release.os_id}, {"version", release.os_version}}},
          {"label", release.label},
          {"file_name", release.file_name()},
          {"sha256", release.sha256},
          {"packages", release.packages},
          {"only_when_pinned", release.only_when_pinned},
          {"source", release.source}};
}

ExitCode run_update(const GlobalOptions& global, const pipeline::CatalogUpdateOptions& options) {
  if (options.url.empty()) {
    throw Error(ExitCode::usage, "no catalog channel URL is built into this ibdriver",
                "give the URL of the signed catalog with --from URL");
  }
  auto result = pipeline::update_catalog(global.system_root(), options);
  if (global.json) {
    fmt::print("{}\n", nlohmann::json{{"serial", result.serial},
                                      {"previous_serial", result.previous_serial ? nlohmann::json(*result.previous_serial) : nlohmann::json(nullptr)},
                                      {"changed", result.changed},
                                      {"key", result.key},
                                      {"releases", result.releases},
                                      {"notes", result.notes},
                                      {"stored", result.stored.string()}}
                           .dump(2));
  } else {
    for (const auto& note : result.notes) log::warning(note);
    fmt::print("{} catalog serial {} ({} releases, signed by {}){}\n", result.changed ? "stored" : "already have",
               result.serial, result.releases, result.key,
               result.previous_serial && result.changed ? fmt::format(", replacing serial {}", *result.previous_serial) : "");
    fmt::print("installed drivers are unchanged; plan and install use it from now on\n");
  }
  return ExitCode::success;
}

ExitCode run_show(const GlobalOptions& global, const std::optional<std::filesystem::path>& overlay) {
  auto root = global.system_root();
  auto stored = catalog::read_stored_channel(catalog::channel_store_path(root));
  auto catalog = catalog::load_machine_catalog(root, overlay);
  if (global.json) {
    nlohmann::json channel = nullptr;
    if (stored) channel = {{"serial", stored->serial}, {"url", stored->url}, {"key", stored->key}, {"stored_at", stored->stored_at}};
    auto releases = nlohmann::json::array();
    for (const auto& release : catalog.releases) releases.push_back(release_json(release));
    fmt::print("{}\n", nlohmann::json{{"channel", channel}, {"notes", catalog.notes}, {"releases", releases}}.dump(2));
    return ExitCode::success;
  }
  if (stored) {
    fmt::print("signed channel: serial {} from {}, signed by {}, stored {}\n", stored->serial, stored->url, stored->key,
               stored->stored_at);
  } else {
    fmt::print("signed channel: none stored (built-in rows only)\n");
  }
  for (const auto& note : catalog.notes) fmt::print("note: {}\n", note);
  fmt::print("{:<28} {:<16} {:<7} {:<22} {:<16} {}\n", "origin", "kind", "arch", "version", "os", "file");
  for (const auto& release : catalog.releases) {
    auto file = release.downloads() ? release.file_name() : fmt::format("(distro: {})", release.default_profile());
    fmt::print("{:<28} {:<16} {:<7} {:<22} {:<16} {}{}\n", text::printable(release.origin, 28), to_string(release.kind),
               release.arch, release.version, fmt::format("{} {}", release.os_id, release.os_version), file,
               release.only_when_pinned ? " (only when pinned)" : "");
  }
  return ExitCode::success;
}

}  // namespace

Command add_catalog_command(CLI::App& app, GlobalOptions& global) {
  struct State {
    pipeline::CatalogUpdateOptions update;
    std::vector<std::string> keys;
    std::optional<std::string> ca_bundle;
    std::optional<std::filesystem::path> overlay;
  };
  auto state = std::make_shared<State>();
  state->update.url = IBDRIVER_CATALOG_URL;
  auto* parser = app.add_subcommand("catalog", "Update the signed driver catalog, or show where each row comes from");
  parser->require_subcommand(1);
  auto* update = parser->add_subcommand("update", "Fetch the signed catalog and its .sig, verify, store under /var/lib/ibdriver");
  update->add_option("--from", state->update.url, "Catalog URL (https:// or file://); the signature is URL.sig");
  update->add_option("--catalog-key", state->keys, "Also trust this PEM public key (a publisher's; repeatable)");
  update->add_option("--ca-bundle", state->ca_bundle, "Also trust the CA certificates of this PEM file")->envname("IBDRIVER_CA_BUNDLE");
  update->add_flag("--json", global.json, "Print the result as JSON");
  auto* show = parser->add_subcommand("show", "List the catalog rows and where each came from");
  show->add_option("--catalog", state->overlay, "Extra catalog rows (JSON), shown first")->envname("IBDRIVER_CATALOG");
  show->add_flag("--json", global.json, "Print the rows as JSON");
  update->fallthrough();
  show->fallthrough();
  return {parser, [state, update, &global] {
            if (update->parsed()) {
              auto options = state->update;
              for (const auto& key : state->keys) options.extra_keys.emplace_back(key);
              if (state->ca_bundle) options.ca_bundle = *state->ca_bundle;
              return run_update(global, options);
            }
            return run_show(global, state->overlay);
          }};
}

}  // namespace ibdriver::cli
