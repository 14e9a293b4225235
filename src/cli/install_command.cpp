#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/progress.hpp"
#include "cli/remedy_text.hpp"
#include "cli/text_report.hpp"
#include "core/log.hpp"
#include "pipeline/install_stage.hpp"

namespace ibdriver::cli {

namespace {
nlohmann::json signing_json(const pipeline::InstallResult& result) {
  if (!result.signing) return nullptr;
  const auto& signing = *result.signing;
  return {{"key", signing.key.key},
          {"certificate", signing.key.certificate},
          {"origin", signing.key.origin},
          {"subject", signing.check.subject},
          {"sha1_fingerprint", signing.check.sha1_fingerprint},
          {"generated", signing.generated},
          {"enrolled", signing.enrolled ? nlohmann::json(*signing.enrolled) : nlohmann::json(nullptr)},
          {"enrolment", signing.enrolment}};
}
nlohmann::json headers_json(const std::vector<platform::MissingHeaders>& missing) {
  auto out = nlohmann::json::array();
  for (const auto& kernel : missing) out.push_back({{"kernel", kernel.kernel}, {"package", kernel.package}});
  return out;
}
nlohmann::json stage_seconds_json(const pipeline::InstallResult& result) {
  auto stages = nlohmann::json::array();
  for (const auto& time : result.stage_seconds) {
    nlohmann::json entry{{"stage", time.stage}, {"seconds", time.seconds}};
    if (!time.kernels.empty()) {
      entry["kernels"] = nlohmann::json::array();
      for (const auto& [kernel, seconds] : time.kernels) entry["kernels"].push_back({{"kernel", kernel}, {"seconds", seconds}});
    }
    stages.push_back(std::move(entry));
  }
  return stages;
}
}  // namespace

Command add_install_command(CLI::App& app, GlobalOptions& global) {
  struct State {
    pipeline::InstallOptions options;
    bool yes = false;
    bool no_validate = false;
    std::vector<std::string> mirrors;
    std::optional<std::string> bundle;
    std::optional<std::string> ca_bundle;
    std::optional<std::string> cache_dir;
    double lock_wait = 600;
  };
  auto state = std::make_shared<State>();
  auto& options = state->options;
  auto* parser = app.add_subcommand("install", "Install the InfiniBand drivers: fetch, verify, unpack, packages, DKMS, configure");
  parser->add_flag("--json", global.json, "Print the result as JSON");
  parser->add_flag("-y,--yes", state->yes, "Do not ask (unattended runs; ibdriver never prompts anyway)");
  parser->add_flag("--dry-run", options.dry_run, "Print the plan and change nothing");
  parser->add_flag("--no-validate", state->no_validate, "Skip the libibverbs validation at the end");
  parser->add_flag("--reload", options.reload,
                   "Restart a running driver that is not the installed one now (openibd restart), instead of requiring a reboot");
  parser->add_flag("--install-headers", options.install_headers,
                   "Install the headers package of each installed kernel that lacks it (linux-headers-KVER, kernel-devel-KVER) "
                   "so DKMS builds the drivers for every kernel; uninstall removes them");
  add_link_layer_option(*parser, options.validation.expect);
  add_plan_options(*parser, options.fetch.plan, OptionSet::install_plan);
  parser->add_option("--bundle", state->bundle, "Install from an offline bundle (written by `ibdriver fetch --to`)");
  parser->add_option("--mirror", options.fetch.mirrors, "Base URL of a mirror holding the bundle (repeatable)");
  parser->add_option("--cache-dir", state->cache_dir, "Download cache (default <root>/var/cache/ibdriver)");
  parser->add_option("--ca-bundle", state->ca_bundle, "Also trust the CA certificates of this PEM file")
      ->envname("IBDRIVER_CA_BUNDLE");
  parser->add_option("--proxy", options.fetch.transfer.proxy, "Proxy URL for the download");
  parser->add_option("--lock-wait", state->lock_wait, "Wait this long for another ibdriver or dpkg (s)")
      ->check(CLI::NonNegativeNumber);
  parser->add_option("--jobs", options.dkms.jobs, "Parallel make jobs for DKMS (default: all processors)");
  parser->add_option("--mok-key", options.signing.key, "Secure Boot: private key DKMS signs the modules with (default: DKMS's, /var/lib/dkms/mok.key)");
  parser->add_option("--mok-cert", options.signing.certificate, "Secure Boot: its X.509 certificate (default: DKMS's, /var/lib/dkms/mok.pub)");
  parser->add_flag("--generate-mok-key", options.signing.generate, "Secure Boot: create the key pair when absent and print how to enrol it");
  return {parser, [state, &global] {
            auto& install_options = state->options;
            install_options.validate = !state->no_validate;
            // DKMS reads the key paths from its configuration: they must not depend on where we ran.
            for (auto* path : {&install_options.signing.key, &install_options.signing.certificate}) {
              if (*path && !path->value().empty() && path->value().front() != '/') *path = std::filesystem::absolute(**path).string();
            }
            if (state->bundle) install_options.fetch.bundle = *state->bundle;
            if (state->ca_bundle) install_options.fetch.transfer.extra_ca = *state->ca_bundle;
            if (state->cache_dir) install_options.fetch.cache_dir = *state->cache_dir;
            install_options.lock_wait = std::chrono::seconds(static_cast<long long>(state->lock_wait));
            install_options.packages.lock_timeout = install_options.lock_wait;
            ProgressReporter progress(stderr, global.quiet || global.json);
            auto root = global.system_root();
            auto plan = pipeline::plan_install(root, install_options);
            auto result = pipeline::run_install(root, plan, install_options, progress);
            progress.finish();
            if (global.json) {
              fmt::print("{}\n", nlohmann::json{{"plan", result.plan},
                                                {"dry_run", install_options.dry_run},
                                                {"nothing_to_do", result.nothing_to_do},
                                                {"stages", result.stages},
                                                {"seconds", result.seconds},
                                                {"stage_seconds", stage_seconds_json(result)},
                                                {"notes", result.notes},
                                                {"kernels_missing_headers", headers_json(result.kernels_missing_headers)},
                                                {"remedies", result.remedies},
                                                {"reboot_required", result.reboot_required},
                                                {"replaced", result.replaced.empty() ? nlohmann::json(nullptr) : nlohmann::json(result.replaced)},
                                                {"journal", result.journal ? nlohmann::json(*result.journal) : nlohmann::json(nullptr)},
                                                {"signing", signing_json(result)}}
                                     .dump(2));
            } else if (install_options.dry_run) {
              print_plan(stdout, result.plan);
            } else {
              fmt::print("{} {}: {} in {:.1f} s\n", result.journal->release_file, result.nothing_to_do ? "already installed" : "installed",
                         result.stages.empty() ? std::string("nothing to do") : fmt::format("{}", fmt::join(result.stages, ", ")),
                         result.seconds);
            }
            if (!global.json) {
              if (!result.replaced.empty()) fmt::print("replaced {}\n", result.replaced);
              for (const auto& note : result.notes) fmt::print("note: {}\n", note);
              if (!result.remedies.empty()) fmt::print("hint: {}\n", hint_with_flags("", result.remedies));
              if (result.reboot_required) fmt::print("reboot required: the installed driver runs after a reboot (validation deferred)\n");
            }
            if (result.signing && !global.json) {
              const auto& signing = *result.signing;
              fmt::print("Secure Boot: modules signed with {} ({}, SHA-1 {}){}\n", signing.key.key, signing.check.subject,
                         signing.check.sha1_fingerprint, signing.generated ? ", a key pair made by this run" : "");
              if (!signing.enrolment.empty()) fmt::print("to load them: {}\n", signing.enrolment);
            }
            // The running kernel works, another kernel's build failed: still a failure of this command.
            if (result.deferred_failure) throw *result.deferred_failure;
            return ExitCode::success;
          }};
}

Command add_status_command(CLI::App& app, GlobalOptions& global) {
  auto* parser = app.add_subcommand("status", "What ibdriver installed, for which kernels, and whether it is still true");
  parser->add_flag("--json", global.json, "Print the status as JSON");
  return {parser, [&global] {
            auto status = pipeline::installation_status(global.system_root());
            if (global.json) {
              fmt::print("{}\n", nlohmann::json(status).dump(2));
            } else if (!status.journal) {
              fmt::print("ibdriver has installed nothing here\n");
            } else {
              const auto& journal = *status.journal;
              fmt::print("release   {} ({})\n", journal.release_file, journal.sha256);
              fmt::print("packages  {}\n", fmt::join(journal.packages, " "));
              for (const auto& module : journal.dkms_modules) {
                fmt::print("dkms      {}/{}: {}\n", module.name, module.version, fmt::join(module.kernels, ", "));
              }
              for (const auto& change : journal.configuration) fmt::print("config    {} ({})\n", change.file, change.action);
              fmt::print("kernels   {}\n", fmt::join(status.kernels, ", "));
              fmt::print("state     {}\n", status.healthy() ? "healthy" : "needs repair: run `ibdriver install` again (`ibdriver repair` rebuilds a kernel's modules)");
              for (const auto& line : status.missing) fmt::print("  - {}\n", line);
              if (status.reboot_required) fmt::print("reboot    required: the installed driver runs after a reboot\n");
              for (const auto& kernel : status.kernels_missing_headers) {
                fmt::print("headers   kernel {} is installed without headers, so it has no driver: install {}, or run `ibdriver install {}`\n",
                           kernel.kernel, kernel.package, flag_for({Knob::install_headers, {}}));
              }
            }
            return status.journal && !status.healthy() ? ExitCode::operation_failed : ExitCode::success;
          }};
}

Command add_uninstall_command(CLI::App& app, GlobalOptions& global) {
  auto yes = std::make_shared<bool>(false);
  auto* parser = app.add_subcommand("uninstall", "Remove what ibdriver installed and restore what it changed");
  parser->add_flag("-y,--yes", *yes, "Do not ask (ibdriver never prompts anyway)");
  return {parser, [&global] {
            auto removed = pipeline::run_uninstall(global.system_root(), std::chrono::seconds(600));
            if (removed) fmt::print("removed {}\n", removed->release_file);
            return ExitCode::success;
          }};
}

}  // namespace ibdriver::cli
