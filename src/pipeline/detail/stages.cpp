#include "pipeline/detail/stages.hpp"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <set>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/process.hpp"
#include "core/text.hpp"
#include "fetch/bundle_cache.hpp"
#include "install/boot_unit.hpp"
#include "install/bundle_arch.hpp"
#include "install/bundle_dkms.hpp"
#include "install/configure.hpp"
#include "install/dkms.hpp"
#include "install/dkms_builder.hpp"
#include "install/dkms_order.hpp"
#include "install/doca_host.hpp"
#include "install/kernel_headers.hpp"
#include "install/kernel_hook.hpp"
#include "install/mofed_bundle.hpp"
#include "install/prebuilt_modules.hpp"
#include "install/module_sources.hpp"
#include "platform/kernels.hpp"
#include "platform/loaded_driver.hpp"
#include "pipeline/repair.hpp"
#include "pipeline/fetch_stage.hpp"
#include "pipeline/install_stage.hpp"
#include "verbs/validate.hpp"

namespace ibdriver::pipeline::detail {

namespace fs = std::filesystem;

namespace {

// Where the package files of the distro packages a bundle replaced are kept (system path).
constexpr const char* replaced_dir = "/var/lib/ibdriver/replaced";

const catalog::DriverRelease& release_of(const StageContext& context) { return context.plan->resolution->release; }

bool is_doca_host(const install::JournalRecord& journal) {
  auto name = journal.release_file;
  return name.rfind("doca-host", 0) == 0;
}

fs::path unpacked_dir(const StageContext& context) { return context.root.path(context.journal.record().bundle_dir); }

// The system path of a host path inside the root (a package manager may work on a root other than "/").
fs::path system_path(const StageContext& context, const fs::path& host) {
  return fs::path("/") / fs::relative(host, context.root.root());
}

constexpr const char* nothing_to_fetch =
    "nothing to fetch: the driver packages come from the distribution's own repositories";

// The kernels the plan found without headers that install is asked to bring them for, and that still lack them.
std::vector<platform::MissingHeaders> headers_to_install(const StageContext& context) {
  std::vector<platform::MissingHeaders> wanted;
  if (context.options == nullptr || context.plan == nullptr || !context.options->install_headers) return wanted;
  auto headed = platform::detect_kernels(context.root).with_headers();
  for (const auto& missing : context.plan->missing_headers) {
    if (std::find(headed.begin(), headed.end(), missing.kernel) == headed.end()) wanted.push_back(missing);
  }
  return wanted;
}

std::vector<std::string> not_done(const StageContext& context, StageName stage) {
  if (context.journal.record().stage_done(std::string(to_string(stage)))) return {};
  return {fmt::format("the {} stage did not finish", to_string(stage))};
}

// Every installed kernel (with headers or not): prebuilt modules need none.
std::vector<std::string> installed_kernels(const StageContext& context) {
  std::vector<std::string> kernels;
  for (const auto& kernel : platform::detect_kernels(context.root).installed) kernels.push_back(kernel.release);
  return kernels;
}

// Prebuilt kmods (MLNX_OFED RPMS/): nothing is built, and "built" is never said. The kernels that hold
// the modules (their own or weak-updates links) are named, and so is every installed kernel without.
std::string prebuilt_report(const StageContext& context, const std::map<std::string, std::vector<std::string>>& prebuilt) {
  std::vector<std::string> with;
  std::vector<std::string> without;
  for (const auto& kernel : installed_kernels(context)) (prebuilt.count(kernel) != 0 ? with : without).push_back(kernel);
  for (const auto& [kernel, files] : prebuilt) {
    if (std::find(with.begin(), with.end(), kernel) == with.end()) with.push_back(kernel);
  }
  std::sort(with.begin(), with.end(), platform::kernel_release_less);
  auto message = fmt::format("nothing built: the bundle's prebuilt modules are installed for {}", fmt::join(with, ", "));
  if (!without.empty()) {
    auto note = fmt::format("kernel(s) {} have no InfiniBand driver: the kmods fit only {}; boot that kernel, or rebuild the bundle for "
                            "them with its mlnx_add_kernel_support.sh -k <kernel> --make-tgz and install that",
                            fmt::join(without, ", "), fmt::join(with, ", "));
    log::warning(note);
    message += "; " + note;
  }
  return message;
}

FetchStageResult fetch_into_bundle_dir(StageContext& context) {
  auto fetch_options = context.options->fetch;
  fetch_options.unpack_to = unpacked_dir(context);
  return run_fetch(context.root, release_of(context), fetch_options, *context.observer);
}

// The verified bundle file in the cache (a DOCA-host package is installed as the file it is); fetched
// again when the cache was cleaned since the bundle was unpacked.
fs::path verified_bundle_file(StageContext& context) {
  const auto& release = release_of(context);
  fetch::BundleCache cache(context.options->fetch.cache_dir.value_or(default_cache_dir(context.root)));
  if (auto cached = cache.verified_entry(release.sha256)) return *cached;
  auto fetch_options = context.options->fetch;
  fetch_options.unpack_to.reset();
  run_fetch(context.root, release, fetch_options, *context.observer);
  if (auto cached = cache.verified_entry(release.sha256)) return *cached;
  throw Error(ExitCode::operation_failed,
              fmt::format("{} is not in the cache {} after fetching it", release.file_name(), cache.dir().string()),
              "run the install again");
}

class FetchStage : public Stage {
 public:
  StageName name() const override { return StageName::fetch; }
  std::string not_needed(const StageContext& context) const override {
    return context.journal.record().distro_packages() ? nothing_to_fetch : "";
  }
  std::vector<std::string> check(const StageContext& context) const override { return not_done(context, name()); }
  std::string run(StageContext& context) override {
    // Streamed: the bytes are hashed and unpacked as they arrive; the folder appears (by rename) only
    // once complete and verified, so the unpack stage then finds it done.
    std::error_code error;
    std::string source;  // where the bytes came from (mirror, URL, cache) and what it took: the fleet's view
    if (!fs::exists(unpacked_dir(context), error)) source = " " + fetch::describe_source(fetch_into_bundle_dir(context).fetched);
    const auto& release = release_of(context);
    return fmt::format("{} verified (SHA-256 {}){}", release.file_name(), release.sha256, source);
  }
  void undo(StageContext& /*context*/) override {}  // the cache is the cache's: `ibdriver fetch` may want it again
};

class UnpackStage : public Stage {
 public:
  StageName name() const override { return StageName::unpack; }
  std::string not_needed(const StageContext& context) const override {
    return context.journal.record().distro_packages() ? nothing_to_fetch : "";
  }
  std::vector<std::string> check(const StageContext& context) const override {
    std::error_code error;
    if (!fs::exists(unpacked_dir(context), error)) return {"the unpacked bundle is gone"};
    if (is_doca_host(context.journal.record()) && !fs::exists(unpacked_dir(context) / context.journal.record().release_file, error)) {
      return {"the verified DOCA-host package is gone from the unpacked bundle"};
    }
    return {};
  }
  std::string run(StageContext& context) override {
    std::error_code error;
    if (!fs::exists(unpacked_dir(context), error)) fetch_into_bundle_dir(context);
    if (release_of(context).kind == catalog::BundleKind::doca_host) {
      auto package_file = unpacked_dir(context) / release_of(context).file_name();
      if (!fs::exists(package_file, error)) install::keep_package_file(verified_bundle_file(context), package_file);
    }
    return fmt::format("unpacked to {}", context.journal.record().bundle_dir);
  }
  void undo(StageContext& context) override {
    std::error_code error;
    if (!context.journal.record().bundle_dir.empty()) fs::remove_all(unpacked_dir(context), error);
  }
};

class PackagesStage : public Stage {
 public:
  StageName name() const override { return StageName::packages; }
  std::vector<std::string> check(const StageContext& context) const override {
    auto missing = not_done(context, name());
    for (const auto& kernel : headers_to_install(context)) {
      missing.push_back(fmt::format("kernel {} has no headers: {} is to be installed", kernel.kernel, kernel.package));
    }
    const auto& journal = context.journal.record();
    if (journal.packages.empty() && journal.headers_packages.empty()) return missing;
    if (context.packages == nullptr) {
      // Unknown is not healthy: say why the packages could not be checked.
      missing.push_back(fmt::format("the installed packages cannot be checked: {}", context.packages_unavailable));
      return missing;
    }
    for (const auto& package : context.packages->not_installed(journal.packages)) {
      missing.push_back(fmt::format("package {} is not installed", package));
    }
    for (const auto& package : context.packages->not_installed(journal.headers_packages)) {
      missing.push_back(fmt::format("kernel headers package {} is not installed", package));
    }
    return missing;
  }
  std::string run(StageContext& context) override {
    const auto started = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto message = install_packages(context);
    // The OFED packages' postinsts build their DKMS modules inside this stage: each kernel's share, from
    // DKMS's own logs (wall-clock times), so the stage's time is not one opaque figure.
    try {
      postinst_builds_ = install::dkms_builds_since(context.root, started);
    } catch (const std::exception& error) {  // a figure only: it never fails the stage
      log::debug(fmt::format("the packages' DKMS build times could not be read: {}", error.what()));
    }
    if (!postinst_builds_.empty()) {
      std::vector<std::string> parts;
      parts.reserve(postinst_builds_.size());
      for (const auto& [kernel, seconds] : postinst_builds_) parts.push_back(fmt::format("{} ({:.0f} s)", kernel, seconds));
      auto built = fmt::format("the packages' scripts built DKMS modules for {}", fmt::join(parts, ", "));
      log::info(built);
      message += "; " + built;
    }
    return message;
  }
  std::vector<std::pair<std::string, double>> kernel_seconds(const StageContext& /*context*/) const override {
    return postinst_builds_;
  }

  void undo(StageContext& context) override {
    const auto& journal = context.journal.record();
    if (journal.packages.empty() && journal.headers_packages.empty() && journal.repository_files.empty() && journal.replaced.empty()) return;
    auto& packages = require_packages(context);
    // The driver's packages first: the headers were there before their builds.
    packages.remove(still_installed(packages, journal.packages));
    packages.remove(still_installed(packages, journal.headers_packages));
    for (const auto& tree : journal.build_trees) {
      std::error_code error;
      fs::remove_all(context.root.path(tree), error);
      if (error) context.undo_failures.push_back(fmt::format("{} (left by the OFED core's build: {}; remove it by hand)", tree, error.message()));
    }
    packages.remove_repository(journal.repository_files);
    auto failed = packages.restore(journal.replaced);
    for (const auto& name : failed) {
      auto found = std::find_if(journal.replaced.begin(), journal.replaced.end(), [&](const auto& package) { return package.name == name; });
      context.undo_failures.push_back(fmt::format("{} {} (the version installed before the bundle replaced it; no kept file or "
                                                  "repository has it: install it from the distro's archive)",
                                                  name, found->version));
    }
    std::error_code error;
    if (failed.empty()) fs::remove_all(context.root.path(replaced_dir), error);
  }

 private:
  std::vector<std::pair<std::string, double>> postinst_builds_;  // of the last run

  // The stage's work; returns its line.
  std::string install_packages(StageContext& context) {
    auto& packages = require_packages(context);
    const auto& release = release_of(context);
    const auto& profile = context.journal.record().profile;
    // Before the driver's packages: real *-dkms packages build in their postinst for every kernel with headers.
    if (auto headers = headers_to_install(context); !headers.empty()) {
      for (const auto& kernel : install::install_kernel_headers(packages, context.root, headers, context.journal)) {
        if (std::find(context.kernels.begin(), context.kernels.end(), kernel) == context.kernels.end()) context.kernels.push_back(kernel);
      }
      std::sort(context.kernels.begin(), context.kernels.end(), platform::kernel_release_less);
    }
    if (release.kind == catalog::BundleKind::distro_packages) {
      // The distribution's configured repositories already carry them: no repository of ours.
      std::vector<std::string> names;
      for (auto name : text::split(profile, ' ')) {
        if (!name.empty()) names.emplace_back(name);
      }
      install_keeping_replaced(context, packages, names);
      return fmt::format("{} installed with {} from the distribution's repositories", profile, packages.name());
    }
    // Real *-dkms packages build in their postinst (dh_dkms), so DKMS's depmod may first index a
    // kernel here, not in the dkms stage: what has no index now is journaled before apt runs.
    for (const auto& kernel : context.kernels) {
      std::error_code error;
      if (!fs::exists(context.root.path("/lib/modules/" + kernel + "/modules.dep"), error)) context.journal.add_depmod_created(kernel);
    }
    for (auto tree : install::ofed_build_trees) {
      std::error_code error;
      if (!fs::exists(context.root.path(std::string(tree)), error) && !error) context.journal.add_build_tree(std::string(tree));
    }
    auto record = [&](const std::vector<std::string>& added) { context.journal.add_packages(added); };
    std::vector<std::string> bundle_sources;
    std::vector<std::vector<std::string>> first_transactions;
    // What the bundle holds, not what it is called: a pinned URL's or a mirror's name may state no
    // architecture, or the wrong one. Before anything is installed.
    install::check_content_arch(unpacked_dir(context), release.file_name(),
                                context.plan != nullptr ? context.plan->platform.arch : release.arch);
    if (release.kind == catalog::BundleKind::doca_host) {
      auto package_file = unpacked_dir(context) / release.file_name();
      auto doca = install::inspect_doca_host_bundle(unpacked_dir(context), system_path(context, package_file), release, packages);
      // Its repository's DKMS packages, as unpacked from it: read before anything is installed.
      std::vector<fs::path> folders;
      for (const auto& repository : doca.repositories) folders.push_back(unpacked_dir(context) / fs::path(repository).relative_path());
      auto order = bundle_dkms_order(context, folders, packages);
      install::add_doca_host_repository(packages, context.root, doca, record);
      bundle_sources = doca.source_files;
      first_transactions = transactions_before_profile(packages, order, profile);
    } else {
      auto bundle = install::inspect_mofed_bundle(unpacked_dir(context), release, packages.format());
      // The dkms.conf files are read before anything is installed: a bad one (a field missing, an
      // unknown BUILD_DEPENDS, a cycle) is exit 14 naming the module and the file, and changes nothing.
      auto order = bundle_dkms_order(context, {bundle.repository}, packages);
      // kmods are read before the repository is added: a bundle that fits no kernel changes nothing.
      install::PrebuiltModules prebuilt;
      if (bundle.format == install::PackageFormat::rpm) prebuilt = install::find_prebuilt_modules(bundle.repository);
      auto repository_files = packages.add_repository({"ibdriver", system_path(context, bundle.repository)});
      if (!prebuilt.empty()) {
        try {
          install::require_prebuilt_fit(packages, {profile}, prebuilt, installed_kernels(context), bundle.top);
        } catch (const Error&) {
          packages.remove_repository(repository_files);
          throw;
        }
      }
      context.journal.add_repository_files(repository_files);
      bundle_sources = repository_files;
      first_transactions = transactions_before_profile(packages, order, profile);
    }
    // Each *-dkms package builds in its postinst, in the package manager's order, which follows Depends
    // only: what a module links against is installed (and built) in a transaction of its own first.
    for (const auto& transaction : first_transactions) {
      log::info(fmt::format("installing {} first, on its own: DKMS build order (what builds next links against it)",
                            fmt::join(transaction, " ")));
      install_keeping_replaced(context, packages, transaction, bundle_sources);
    }
    install_keeping_replaced(context, packages, {profile}, bundle_sources);
    return first_transactions.empty() ? fmt::format("{} installed with {}", profile, packages.name())
                                      : fmt::format("{} installed with {} (DKMS build order: {} first)", profile, packages.name(),
                                                    fmt::join(first_transactions.front(), " "));
  }

  static install::PackageManager& require_packages(const StageContext& context) {
    if (context.packages == nullptr) throw Error(ExitCode::os_not_supported, context.packages_unavailable);
    return *context.packages;
  }

  // The bundle's DKMS modules in build order, read from its *-dkms package files (NVIDIA names every
  // package of a DKMS source so: real-bundles.md) before the package manager runs.
  static install::DkmsBuildOrder bundle_dkms_order(const StageContext& context, const std::vector<fs::path>& repositories,
                                                   install::PackageManager& packages) {
    std::vector<install::PackageFile> files;
    std::error_code error;
    for (const auto& repository : repositories) {
      // A flat DEBS/ or RPMS/, or a repository with a pool/ (DOCA-host).
      for (const auto& entry : fs::recursive_directory_iterator(repository, error)) {
        auto name = entry.path().filename().string();
        auto extension = entry.path().extension();
        if ((extension != ".deb" && extension != ".rpm") || name.find("dkms") == std::string::npos) continue;
        files.push_back({entry.path(), packages.package_name_of(system_path(context, entry.path()))});
      }
    }
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.file < b.file; });
    if (files.empty()) return {};
    auto scratch = context.root.path("/var/lib/ibdriver/dkms-conf.tmp");
    fs::remove_all(scratch, error);
    struct RemoveScratch {
      fs::path path;
      ~RemoveScratch() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
      }
    } remove_scratch{scratch};
    // Modules DKMS already has on this machine satisfy a BUILD_DEPENDS outside the bundle.
    std::set<std::string> elsewhere;
    for (const auto& entry : fs::directory_iterator(context.root.path("/var/lib/dkms"), error)) elsewhere.insert(entry.path().filename().string());
    return install::dkms_build_order(install::bundle_dkms_modules(files, scratch), elsewhere);
  }

  // The transactions before the profile's own: every depth but the deepest, each limited to the
  // packages the profile installs (a package the profile does not want is never added for its order).
  // Empty when the order has one depth: one transaction is then already in order.
  static std::vector<std::vector<std::string>> transactions_before_profile(install::PackageManager& packages,
                                                                          const install::DkmsBuildOrder& order,
                                                                          const std::string& profile) {
    auto groups = install::install_transactions(order);
    if (groups.size() < 2) return {};
    auto wanted = packages.would_install({profile});
    std::vector<std::vector<std::string>> transactions;
    for (std::size_t depth = 0; depth + 1 < groups.size(); ++depth) {
      std::vector<std::string> transaction;
      for (const auto& name : groups[depth]) {
        if (std::find(wanted.begin(), wanted.end(), name) != wanted.end()) transaction.push_back(name);
      }
      if (!transaction.empty()) transactions.push_back(std::move(transaction));
    }
    return transactions;
  }

  static std::vector<std::string> still_installed(install::PackageManager& packages, const std::vector<std::string>& names) {
    auto absent = packages.not_installed(names);
    std::vector<std::string> installed;
    for (const auto& package : names) {
      if (std::find(absent.begin(), absent.end(), package) == absent.end()) installed.push_back(package);
    }
    return installed;
  }

  // Driver packages ship rdma-core, libibverbs1... under the distro's names at higher versions: what
  // they replace is kept (journaled before the upgrade) so uninstall can put the distro's back; what
  // the manager will add is journaled first, as a postinst that fails half way leaves them installed.
  // `bundle_sources`: the bundle's package sources, whose packages the distribution's own repositories
  // stop offering (EL9 baseos; journaled, restored by uninstall); none for the distribution's own packages.
  static void install_keeping_replaced(StageContext& context, install::PackageManager& packages, const std::vector<std::string>& names,
                                       const std::vector<std::string>& bundle_sources = {}) {
    // A transaction that cannot resolve is refused before anything is kept or installed.
    if (auto answer = packages.dry_run(names); !answer.resolved) {
      throw Error(ExitCode::operation_failed,
                  fmt::format("{} cannot install {} (a dry run; nothing was installed):\n{}", packages.name(), fmt::join(names, " "), answer.problems),
                  "see the lines above: a package the bundle needs is missing from the configured repositories");
    }
    auto replaced = packages.would_replace(names);
    packages.keep_files(replaced, replaced_dir);  // before the exclusion: dnf download may need those repositories
    context.journal.add_replaced(replaced);
    if (!bundle_sources.empty()) {
      packages.exclude_from_distribution(bundle_sources, [&](const install::ConfigChange& change) { context.journal.add_config_change(change); });
    }
    context.journal.add_packages(packages.would_install(names));
    context.journal.add_packages(packages.install(names));
  }
};

class DkmsStage : public Stage {
 public:
  StageName name() const override { return StageName::dkms; }
  std::string not_needed(const StageContext& context) const override {
    return context.journal.record().distro_packages()
               ? "nothing to build: the distribution's packages carry modules prebuilt for its own kernels"
               : "";
  }
  std::vector<std::string> check(const StageContext& context) const override {
    auto missing = not_done(context, name());
    const auto& journal = context.journal.record();
    std::optional<std::string> certificate;
    if (context.signing != nullptr) {
      certificate = context.signing->key.certificate;
      if (journal.mok_key != context.signing->key.key || journal.mok_certificate != context.signing->key.certificate) {
        missing.push_back(fmt::format("the modules are to be signed with {}", context.signing->key.key));
      }
    } else if (!journal.mok_key.empty()) {
      certificate = journal.mok_certificate;
    }
    if (!journal.mok_key.empty() &&
        !install::dkms_signing_configured(context.root, {journal.mok_key, journal.mok_certificate, "the journal"})) {
      missing.push_back(fmt::format("DKMS is no longer configured to sign with {} ({})", journal.mok_key, install::dkms_signing_dropin));
    }
    install::DkmsBuilder builder(context.root, {}, certificate);
    for (const auto& journaled : journal.dkms_modules) {
      install::DkmsModule module{journaled.name, journaled.version, {}, {}};
      for (const auto& kernel : context.kernels) {
        for (const auto& lack : builder.lacking(module, kernel)) {
          missing.push_back(fmt::format("DKMS module {}/{} for kernel {}: {}", module.name, module.version, kernel, lack));
        }
      }
    }
    return missing;
  }
  std::string run(StageContext& context) override {
    std::optional<std::string> certificate;
    if (context.signing != nullptr) {
      const auto& key = context.signing->key;
      context.journal.set_signing(key.key, key.certificate, context.signing->generated);
      install::configure_dkms_signing(context.root, key,
                                      [&](const install::ConfigChange& change) { context.journal.add_config_change(change); });
      certificate = key.certificate;
    }
    auto with_profile = context.journal.record().packages;
    with_profile.push_back(context.journal.record().profile);
    auto modules = install::dkms_modules_of(*context.packages, context.root, with_profile);
    if (modules.empty()) {
      if (auto prebuilt = install::prebuilt_module_files(*context.packages, context.root, with_profile); !prebuilt.empty()) {
        return prebuilt_report(context, prebuilt);
      }
      // Never "built" when nothing was: a bundle without DKMS packages (prebuilt kmods) or packages
      // installed by another process are not modules of this install.
      throw Error(ExitCode::operation_failed,
                  fmt::format("none of the installed packages of {} carries a DKMS module, so no kernel module was built",
                              context.journal.record().release_file),
                  "check `dkms status` and the bundle's profile; a bundle of prebuilt kmods needs the kernel it was built for");
    }
    for (const auto& module : modules) context.journal.add_dkms_module(module.name, module.version);
    // The running kernel first: once it has the driver, load and validate need nothing more, and the
    // other kernels (a node boots them later, if ever) are built after validate (run_deferred).
    auto first = context.kernels;
    std::vector<std::string> others;
    const auto& running = context.plan->platform.kernels.running;
    if (context.kernels.size() > 1 && std::find(context.kernels.begin(), context.kernels.end(), running) != context.kernels.end()) {
      first = {running};
      std::copy_if(context.kernels.begin(), context.kernels.end(), std::back_inserter(others),
                   [&](const std::string& kernel) { return kernel != running; });
    }
    build_for(context, modules, first, certificate);
    context.deferred_kernels = others;  // only once the running kernel has the driver
    if (!context.deferred_kernels.empty()) {
      deferred_modules_ = modules;
      deferred_certificate_ = certificate;
      return fmt::format("{} module(s) built and installed for the running kernel {} ({:.1f} s); {} next, after validate",
                         modules.size(), running, context.kernel_seconds.back().second, fmt::join(context.deferred_kernels, ", "));
    }
    return fmt::format("{} module(s) built and installed for {}", modules.size(), fmt::join(context.kernels, ", "));
  }
  std::vector<std::pair<std::string, double>> kernel_seconds(const StageContext& context) const override {
    return context.kernel_seconds;
  }
  std::string run_deferred(StageContext& context) override {
    if (context.deferred_kernels.empty()) return {};
    build_for(context, deferred_modules_, context.deferred_kernels, deferred_certificate_);
    context.deferred_kernels.clear();
    return fmt::format("{} module(s) built and installed for {} (the running kernel first)", deferred_modules_.size(),
                       fmt::join(context.kernels, ", "));
  }
  void undo(StageContext& context) override {
    const auto& journal = context.journal.record();
    install::Dkms dkms({});
    for (auto module = journal.dkms_modules.rbegin(); module != journal.dkms_modules.rend(); ++module) {
      dkms.remove(module->name, module->version);
    }
    for (const auto& kernel : journal.depmod_created) {
      // Only an index that lists nothing any more is DKMS's alone; a kernel with modules keeps its own.
      auto folder = context.root.path("/lib/modules/" + kernel);
      std::error_code error;
      if (fs::exists(folder / "modules.dep", error) && fs::file_size(folder / "modules.dep", error) == 0) {
        for (const auto& entry : fs::directory_iterator(folder, error)) {
          if (entry.path().filename().string().rfind("modules.", 0) == 0) fs::remove(entry.path(), error);
        }
      }
    }
  }

 private:
  // Builds what each kernel lacks, in order, timing each kernel (context.kernel_seconds), then takes
  // DKMS's own verdict, as Azure's images check it: vendor packages' postinst scripts hide failed builds.
  static void build_for(StageContext& context, const std::vector<install::DkmsModule>& modules, const std::vector<std::string>& kernels,
                        const std::optional<std::string>& certificate) {
    install::DkmsBuilder builder(context.root, context.options->dkms, certificate);
    for (const auto& kernel : kernels) {
      auto started = std::chrono::steady_clock::now();
      auto built = builder.ensure(modules, kernel, context.journal);
      auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      context.kernel_seconds.emplace_back(kernel, seconds);
      log::info(built.empty() ? fmt::format("dkms: kernel {} already had every module ({:.1f} s)", kernel, seconds)
                              : fmt::format("dkms: built {} for kernel {} in {:.1f} s", fmt::join(built, ", "), kernel, seconds));
    }
    install::Dkms dkms(context.options->dkms);
    std::vector<std::string> not_installed;
    for (const auto& module : modules) {
      for (const auto& kernel : kernels) {
        if (!dkms.installed(module, kernel)) not_installed.push_back(fmt::format("{}/{} for {}", module.name, module.version, kernel));
      }
    }
    if (!not_installed.empty()) {
      throw Error(ExitCode::operation_failed,
                  fmt::format("after the build, `dkms status` does not show {} as installed", fmt::join(not_installed, ", ")),
                  "see the make.log under /var/lib/dkms/<module>/<version>/build/ and `dkms status`");
    }
  }

  std::vector<install::DkmsModule> deferred_modules_;
  std::optional<std::string> deferred_certificate_;
};

class ConfigureStage : public Stage {
 public:
  StageName name() const override { return StageName::configure; }
  std::vector<std::string> check(const StageContext& context) const override {
    auto missing = not_done(context, name());
    if (!install::node_configured(context.root, journaled_node(context))) missing.push_back("the node configuration changed");
    if (!install::boot_unit_installed(context.root)) {
      missing.push_back(fmt::format("the boot-time repair ({}) is not enabled", install::boot_unit_name));
    }
    auto modules = module_names(context);
    if (!modules.empty() && !install::kernel_hook_installed(context.root, modules)) {
      missing.push_back("the kernel hook that builds the modules in order for a kernel installed later is missing or changed");
    }
    return missing;
  }
  std::string run(StageContext& context) override {
    auto record = [&](const install::ConfigChange& change) { context.journal.add_config_change(change); };
    auto node = node_settings(*context.plan, context.options->fetch.plan);
    context.journal.set_node(node.ipoib, node.nvidia_peermem);
    install::configure_node(context.root, node, record);
    install::install_boot_unit(context.root, record);
    // DKMS's autoinstall builds by name on a new kernel: NVIDIA's ULPs before the core, and fail.
    auto modules = module_names(context);
    if (!modules.empty()) install::install_kernel_hook(context.root, modules, record);
    return "modules load at boot; RDMA enabled for the Azure agent";
  }
  void undo(StageContext& context) override { install::restore_configuration(context.root, context.journal.record().configuration); }

 private:
  static install::NodeSettings journaled_node(const StageContext& context) {
    return {context.journal.record().ipoib, context.journal.record().nvidia_peermem};
  }
  // The journal's modules, in build order (as journaled).
  static std::vector<std::string> module_names(const StageContext& context) {
    std::vector<std::string> names;
    for (const auto& module : context.journal.record().dkms_modules) names.push_back(module.name);
    return names;
  }
};

class LoadStage : public Stage {
 public:
  StageName name() const override { return StageName::load; }
  bool lasting() const override { return false; }
  std::vector<std::string> check(const StageContext& /*context*/) const override { return {}; }
  std::string run(StageContext& context) override {
    const auto& kernel = context.plan->platform.kernels.running;
    if (context.journal.record().dkms_modules.empty()) {
      // Prebuilt modules (the distribution's packages, MLNX_OFED kmods) are for the kernels they were built for.
      if (kernel.empty() || driver_state(context, kernel).modules.empty()) {
        return require_reboot(context, fmt::format("the driver's packages hold no modules for the running kernel {}; "
                                                   "they run after a reboot into the kernel they were built for",
                                                   kernel.empty() ? "(unknown)" : kernel));
      }
    } else if (kernel.empty() || std::find(context.kernels.begin(), context.kernels.end(), kernel) == context.kernels.end()) {
      return require_reboot(context, fmt::format("the running kernel {} has no build of the driver; it runs after a reboot into {}",
                                                 kernel.empty() ? "(unknown)" : kernel, fmt::join(context.kernels, " or ")));
    }
    auto state = driver_state(context, kernel);
    if (state.stale.empty() && state.not_loaded.empty()) return "the installed driver is the running one";
    if (state.stale.empty() && can_load_here(context.root, kernel)) {
      // Nothing of this driver runs yet (no inbox module to replace): loading it disturbs nothing.
      modprobe(context, state.not_loaded, false);
      return confirm(context, kernel, fmt::format("loaded {}", fmt::join(state.not_loaded, " ")));
    }
    if (!context.options->reload || !can_load_here(context.root, kernel)) {
      auto what = state.stale.empty() ? fmt::format("{} not loaded", fmt::join(state.not_loaded, ", "))
                                      : fmt::format("{} run(s) another build (the inbox driver or an older one)", fmt::join(state.stale, ", "));
      // A live restart can detach Azure's SR-IOV VFs (Azure's images reboot instead): only on request.
      return require_reboot(context, fmt::format("{}: the installed driver runs after a reboot", what));
    }
    restart_driver(context, kernel, state);
    return confirm(context, kernel, "restarted the driver");
  }
  void undo(StageContext& /*context*/) override {}

 private:
  struct DriverState {
    std::vector<std::string> modules;     // the bundle's modules for the kernel, in load order
    std::vector<std::string> stale;       // loaded, but another build than the installed file
    std::vector<std::string> not_loaded;
  };

  static DriverState driver_state(const StageContext& context, const std::string& kernel) {
    DriverState state;
    for (const auto& file : module_files(context, kernel)) {
      auto name = fs::path(file).filename().string();
      name = name.substr(0, name.find(".ko"));
      state.modules.push_back(name);
      auto loaded = platform::loaded_module(context.root, name);
      if (!loaded.loaded) {
        state.not_loaded.push_back(name);
      } else if (!platform::identify_driver(name, platform::read_module_file(context.root.path(file)), loaded).running_is_installed) {
        state.stale.push_back(name);
      }
    }
    return state;
  }

  // The install's module files for a kernel (system paths): DKMS's, in build order; or those the
  // packages of prebuilt modules put under /lib/modules/<kernel>/ (with weak-updates links).
  static std::vector<std::string> module_files(const StageContext& context, const std::string& kernel) {
    std::vector<std::string> files;
    const auto& journal = context.journal.record();
    for (const auto& module : journal.dkms_modules) {
      auto installed = install::dkms_installed_module_files(context.root, module.name, module.version, kernel);
      files.insert(files.end(), installed.begin(), installed.end());
    }
    // Prebuilt ones: the distribution's packages, MLNX_OFED's kmods, a bundle's *-modules package.
    if (context.packages != nullptr) {
      auto prebuilt = install::prebuilt_module_files(*context.packages, context.root, journal.packages);
      if (auto found = prebuilt.find(kernel); found != prebuilt.end()) {
        for (const auto& file : found->second) {
          if (std::find(files.begin(), files.end(), file) == files.end()) files.push_back(file);
        }
      }
    }
    return files;
  }

  static bool can_load_here(const SystemRoot& root, const std::string& kernel) {
    return root.is_host_root() && kernel == running_kernel_release() && !inside_chroot();
  }

  std::string require_reboot(StageContext& context, const std::string& why) {
    context.reboot_required = true;
    // Debian's and Ubuntu's convention, read by unattended-upgrades, motd and fleet tooling.
    auto marker = context.root.path("/run/reboot-required");
    std::error_code error;
    if (!fs::exists(marker, error)) {
      context.journal.add_config_change({"/run/reboot-required", "created", std::nullopt});
      fs::create_directories(marker.parent_path(), error);
      write_file_atomically(marker, "*** System restart required ***\n", 0644);
    }
    log::info(fmt::format("reboot required: {}", why));
    return "reboot required: " + why;
  }

  static void modprobe(const StageContext& context, const std::vector<std::string>& modules, bool remove) {
    if (modules.empty()) return;
    std::vector<std::string> argv{"modprobe", remove ? "-r" : "-a"};
    argv.insert(argv.end(), modules.begin(), modules.end());
    auto result = run_process(argv);
    if (!result.succeeded()) {
      throw Error(ExitCode::operation_failed,
                  fmt::format("{} {}: {}", fmt::join(argv, " "), result.describe_end(), result.tail(4)),
                  context.journal.record().mok_key.empty() ? "see `dmesg` for the kernel's reason"
                                                           : "see `dmesg`; with Secure Boot the MOK key must be enrolled");
    }
  }

  // The vendor's way first (openibd restart unloads and loads the whole stack in order); then, for what
  // it left stale or unloaded (modules it does not manage), the bundle's modules, unloaded newest first
  // and loaded in build order.
  static void restart_driver(const StageContext& context, const std::string& kernel, DriverState state) {
    std::error_code error;
    if (fs::exists(context.root.path("/etc/init.d/openibd"), error)) {
      auto result = run_process({"/etc/init.d/openibd", "restart"});
      if (!result.succeeded()) {
        throw Error(ExitCode::operation_failed, fmt::format("openibd restart {}: {}", result.describe_end(), result.tail(6)),
                    "reboot to load the installed driver");
      }
      state = driver_state(context, kernel);
      if (state.stale.empty() && state.not_loaded.empty()) return;
      log::info(fmt::format("openibd restart left {} to reload", fmt::join(state.stale.empty() ? state.not_loaded : state.stale, ", ")));
    }
    std::vector<std::string> loaded;
    for (const auto& module : state.modules) {
      if (std::find(state.not_loaded.begin(), state.not_loaded.end(), module) == state.not_loaded.end()) loaded.push_back(module);
    }
    std::reverse(loaded.begin(), loaded.end());
    modprobe(context, loaded, true);
    modprobe(context, state.modules, false);
  }

  static std::string confirm(const StageContext& context, const std::string& kernel, const std::string& done) {
    auto after = driver_state(context, kernel);
    if (!after.stale.empty() || !after.not_loaded.empty()) {
      throw Error(ExitCode::operation_failed,
                  fmt::format("{}, but the running driver is still not the installed one ({})", done,
                              fmt::join(after.stale.empty() ? after.not_loaded : after.stale, ", ")),
                  "reboot to load the installed driver");
    }
    auto message = fmt::format("{}: the installed driver is the running one", done);
    log::info(message);  // the command line shows it: a driver replaced on a live machine is news
    return message;
  }
};

class ValidateStage : public Stage {
 public:
  StageName name() const override { return StageName::validate; }
  bool lasting() const override { return false; }
  std::vector<std::string> check(const StageContext& /*context*/) const override { return {}; }
  std::string run(StageContext& context) override {
    return validate_running_driver(context.root, context.options->validation);
  }
  void undo(StageContext& /*context*/) override {}
};

}  // namespace

}  // namespace ibdriver::pipeline::detail

namespace ibdriver::pipeline {

std::string validate_running_driver(const SystemRoot& root, const verbs::ValidationOptions& options) {
  auto validation = verbs::validate(options);
  verbs::require_passed(validation);
  std::string judged;
  for (const auto& driver : platform::rdma_device_drivers(root)) judged += (judged.empty() ? "" : "; ") + driver.describe();
  auto message = judged.empty() ? validation.message : fmt::format("{} (driver: {})", validation.message, judged);
  log::info(fmt::format("validated: {}", message));
  return message;
}

}  // namespace ibdriver::pipeline

namespace ibdriver::pipeline::detail {

std::string bundle_dir_for(const std::string& sha256) { return "/var/lib/ibdriver/bundles/" + sha256; }

std::vector<std::unique_ptr<Stage>> install_stages() {
  std::vector<std::unique_ptr<Stage>> stages;
  stages.push_back(std::make_unique<FetchStage>());
  stages.push_back(std::make_unique<UnpackStage>());
  stages.push_back(std::make_unique<PackagesStage>());
  stages.push_back(std::make_unique<DkmsStage>());
  stages.push_back(std::make_unique<ConfigureStage>());
  stages.push_back(std::make_unique<LoadStage>());
  stages.push_back(std::make_unique<ValidateStage>());
  return stages;
}

}  // namespace ibdriver::pipeline::detail
