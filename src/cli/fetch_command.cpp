#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/progress.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "pipeline/fetch_stage.hpp"

namespace ibdriver::cli {

namespace {
void print_result(const pipeline::FetchStageResult& result, bool json) {
  const auto& fetched = result.fetched;
  if (json) {
    nlohmann::json out = {{"path", fetched.path.string()},
                          {"file_name", result.release.file_name()},
                          {"version", result.release.version},
                          {"sha256", fetched.sha256},
                          {"bytes", fetched.bytes},
                          {"seconds", fetched.seconds},
                          {"from_cache", fetched.from_cache},
                          {"resumed", fetched.resumed},
                          {"attempts", fetched.attempts},
                          {"busy_waited_seconds", static_cast<double>(fetched.busy_waited.count()) / 1000.0},
                          {"source", fetched.url},
                          {"exported", result.exported ? nlohmann::json(result.exported->string()) : nlohmann::json(nullptr)},
                          {"unpacked", result.unpacked ? report_json(*result.unpacked) : nlohmann::json(nullptr)},
                          {"streamed", result.streamed}};
    fmt::print("{}\n", out.dump(2));
    return;
  }
  fmt::print("{}  {}\n", fetched.sha256, fetched.path.string());
  if (result.exported) fmt::print("{}  {}\n", fetched.sha256, result.exported->string());
}

// A distro-packages release: its packages come from the distribution's configured repositories.
ExitCode print_nothing_to_fetch(const catalog::DriverRelease& release, bool json) {
  auto message = fmt::format("nothing to fetch: the driver for this OS is the distribution's own packages ({}), which install "
                             "takes from its configured repositories; to install offline, mirror those repositories",
                             fmt::join(release.packages, " "));
  if (json) {
    fmt::print("{}\n", nlohmann::json{{"nothing_to_fetch", true},
                                      {"kind", std::string(to_string(release.kind))},
                                      {"version", release.version},
                                      {"packages", release.packages},
                                      {"message", message}}
                           .dump(2));
  } else {
    fmt::print("{}\n", message);
  }
  return ExitCode::success;
}

std::chrono::milliseconds seconds(double value) {
  return std::chrono::milliseconds(static_cast<long long>(value * 1000));
}
}  // namespace

Command add_fetch_command(CLI::App& app, GlobalOptions& global) {
  struct State {
    pipeline::FetchOptions options;
    double stall_seconds = 30;
    double timeout_seconds = 7200;
    std::optional<std::string> ca_bundle;
    std::optional<std::string> cache_dir;
    std::optional<std::string> export_to;
    std::optional<std::string> bundle;
    std::optional<std::string> unpack_to;
  };
  auto state = std::make_shared<State>();
  auto& options = state->options;
  auto* parser = app.add_subcommand("fetch", "Download and verify the driver bundle into the cache (or import an offline one)");
  parser->add_flag("--json", global.json, "Print the result as JSON");
  add_plan_options(*parser, options.plan, OptionSet::driver_choice);
  parser->add_option("--os", options.for_os, "Choose the release for another machine's OS, ID:VERSION (no detection)");
  parser->add_option("--mirror", options.mirrors, "Base URL of a mirror holding the catalog's file name (repeatable, tried in order)");
  parser->add_option("--cache-dir", state->cache_dir, "Cache folder (default <root>/var/cache/ibdriver)");
  parser->add_option("--ca-bundle", state->ca_bundle, "Also trust the CA certificates of this PEM file")
      ->envname("IBDRIVER_CA_BUNDLE");
  parser->add_option("--proxy", options.transfer.proxy, "Proxy URL (default: https_proxy/no_proxy from the environment)");
  parser->add_option("--to", state->export_to, "Also write the bundle and FILE.sha256 here (an offline bundle)");
  parser->add_option("--bundle", state->bundle, "Verify an offline bundle and put it into the cache instead of downloading");
  parser->add_option("--unpack-to", state->unpack_to,
                     "Also unpack the bundle into this fresh folder, while it downloads (promoted after the SHA-256 matched)");
  add_extraction_limits(*parser, options.limits);
  parser->add_option("--stall-timeout", state->stall_seconds, "Abort and resume a transfer without data for this long (s)")
      ->check(CLI::PositiveNumber);
  parser->add_option("--timeout", state->timeout_seconds, "Give up after this long in all (s)")->check(CLI::PositiveNumber);
  parser->add_option("--retries", options.transfer.attempts_per_source, "Attempts per source")->check(CLI::Range(1, 100));
  return {parser, [state, &global] {
            auto& fetch_options = state->options;
            fetch_options.transfer.stall_timeout = seconds(state->stall_seconds);
            fetch_options.transfer.overall_timeout = seconds(state->timeout_seconds);
            if (state->ca_bundle) fetch_options.transfer.extra_ca = *state->ca_bundle;
            if (state->cache_dir) fetch_options.cache_dir = *state->cache_dir;
            if (state->export_to) fetch_options.export_to = *state->export_to;
            if (state->bundle) fetch_options.bundle = *state->bundle;
            if (state->unpack_to) fetch_options.unpack_to = *state->unpack_to;
            ProgressReporter progress(stderr, global.quiet || global.json);
            auto root = global.system_root();
            auto release = pipeline::choose_fetch_release(root, fetch_options).release;
            if (!release.downloads()) return print_nothing_to_fetch(release, global.json);
            auto result = pipeline::run_fetch(root, release, fetch_options, progress);
            progress.finish();
            log::info(fmt::format("{}: {} bytes, SHA-256 verified, {:.1f} s, {}", result.release.file_name(), result.fetched.bytes,
                                  result.fetched.seconds, fetch::describe_source(result.fetched)));
            print_result(result, global.json);
            return ExitCode::success;
          }};
}

}  // namespace ibdriver::cli
