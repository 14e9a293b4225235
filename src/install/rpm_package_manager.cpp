#include "install/rpm_package_manager.hpp"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "install/local_repository.hpp"
#include "platform/os_release.hpp"

namespace ibdriver::install {

namespace fs = std::filesystem;

namespace {

constexpr const char* repository_file_name = "ibdriver.repo";

std::vector<std::string> output_lines(const std::string& out) {
  std::vector<std::string> lines;
  for (auto line : text::split(out, '\n')) {
    line = text::trim(line);
    if (!line.empty()) lines.emplace_back(line);
  }
  return lines;
}

// The pid files each front end keeps while it works (rpm's own lock is common to all).
std::vector<std::string> pid_files(RpmFrontEnd tool) {
  switch (tool) {
    case RpmFrontEnd::dnf: return {"/var/lib/dnf/rpmdb_lock.pid", "/var/cache/dnf/metadata_lock.pid"};
    case RpmFrontEnd::yum: return {"/run/yum.pid", "/var/run/yum.pid"};
    case RpmFrontEnd::zypper: return {"/run/zypp.pid", "/var/run/zypp.pid"};
    case RpmFrontEnd::tdnf: return {};  // tdnf's instance lock is an flock; rpm's lock covers its transactions
  }
  return {};
}

}  // namespace

RpmPackageManager::RpmPackageManager(RpmFrontEnd tool, const SystemRoot& root, const PackageManagerSettings& settings,
                                     std::string releasever)
    : root_(root), settings_(settings) {
  context_.tool = tool;
  if (!root_.is_host_root()) {
    context_.installroot = root_.root().string();
    context_.reposdir = root_.path(repository_folder()).string();
    if (releasever.empty()) {
      try {
        releasever = platform::read_os_release(root_).version_id;
      } catch (const Error&) {
        // No os-release in the root: dnf asks for --releasever in its own words, quoted on failure.
      }
    }
    context_.releasever = releasever;
  }
  locks_.pid_files = pid_files(tool);
}

std::string RpmPackageManager::repository_folder() const {
  return context_.tool == RpmFrontEnd::zypper ? "/etc/zypp/repos.d" : "/etc/yum.repos.d";
}

ProcessResult RpmPackageManager::run_tool(const std::vector<std::string>& argv) {
  if (locks_.fcntl_locks.empty()) {
    // rpm's transaction lock lives beside its database, which differs between distros (and Debian).
    auto dbpath = run_process(rpm_command({}, {"--eval", "%{_dbpath}"}));
    auto folder = dbpath.succeeded() ? std::string(text::trim(dbpath.out)) : std::string("/var/lib/rpm");
    locks_.fcntl_locks = {folder + "/.rpm.lock"};
  }
  auto deadline = std::chrono::steady_clock::now() + settings_.lock_timeout;
  ProcessOptions options;
  options.time_limit = settings_.command_timeout;
  options.outlive_owner = true;  // a transaction must not die of SIGPIPE if ibdriver is killed
  options.extra_environment = {"LC_ALL=C"};
  // zypper waits for its own lock only this long (the default is not to wait at all).
  if (context_.tool == RpmFrontEnd::zypper) {
    options.extra_environment.push_back(fmt::format("ZYPP_LOCK_TIMEOUT={}", settings_.lock_timeout.count()));
  }
  log::debug(fmt::format("running {}", format_command(argv)));
  for (bool first = true;; first = false) {
    auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - std::chrono::steady_clock::now());
    wait_for_rpm_locks(root_, locks_, first ? settings_.lock_timeout : std::max(left, std::chrono::seconds(1)), name());
    auto result = run_process(argv, options);
    // Another process took a lock between the wait and the start: wait for it again while time is left.
    bool lost_race = !result.succeeded() && (result.err.find("lock") != std::string::npos || result.out.find("lock") != std::string::npos) &&
                     (result.err.find("another") != std::string::npos || result.out.find("another") != std::string::npos ||
                      result.err.find("can't create transaction lock") != std::string::npos);
    if (!lost_race || std::chrono::steady_clock::now() >= deadline) return result;
  }
}

std::vector<std::string> RpmPackageManager::add_repository(const LocalRepository& repository) {
  auto folder = root_.path(repository.directory.string());
  ensure_rpm_metadata(folder, settings_.command_timeout);
  auto file = repository_folder() + "/" + repository_file_name;
  std::error_code error;
  fs::create_directories(root_.path(repository_folder()), error);
  // The base URL is read by the tool as the host sees it (with --installroot too).
  write_file_atomically(root_.path(file), repository_file_text(context_, folder.string(), "the verified driver bundle"));
  auto result = run_tool(refresh_command(context_, {context_.repository}));
  if (!result.succeeded()) {
    throw Error(ExitCode::operation_failed,
                fmt::format("{} could not read the bundle's repository {} ({}):\n{}", name(), folder.string(),
                            result.describe_end(), rpm_tool_errors(result)),
                "check the bundle's repodata/ (or remove it: ibdriver then makes it with createrepo_c)");
  }
  return {file};
}

void RpmPackageManager::remove_repository(const std::vector<std::string>& files) {
  for (const auto& file : files) {
    std::error_code error;
    if (fs::path(file).filename() == repository_file_name && fs::exists(root_.path(file), error)) {
      auto result = run_tool(clean_command(context_));  // its cached metadata goes with it
      if (!result.succeeded()) log::debug(fmt::format("{} clean: {}", name(), result.tail(4)));
    }
    fs::remove(root_.path(file), error);
  }
}

std::set<std::string> RpmPackageManager::installed_names() {
  auto result = run_process(rpm_command(context_, {"-qa", "--qf", "%{NAME}\\n"}));
  auto lines = output_lines(result.out);
  return {lines.begin(), lines.end()};
}

std::vector<std::string> RpmPackageManager::not_installed(const std::vector<std::string>& packages) {
  if (packages.empty()) return {};
  // A package is asked for by name, or (an install-only package such as kernel-devel, one name for
  // every version) by name-version-release[.arch], as kernel_headers_package spells it from uname -r.
  std::vector<std::string> arguments{"-q", "--qf", "%{NAME} %{NAME}-%{VERSION}-%{RELEASE} %{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n"};
  arguments.insert(arguments.end(), packages.begin(), packages.end());
  // Exits with the number of packages that are missing; each match is a line of its own.
  std::set<std::string> installed;
  for (const auto& line : output_lines(run_process(rpm_command(context_, arguments)).out)) {
    auto words = text::split(line, ' ');
    if (words.size() == 3) installed.insert(words.begin(), words.end());  // not "package X is not installed"
  }
  std::vector<std::string> missing;
  for (const auto& package : packages) {
    if (installed.count(package) == 0) missing.push_back(package);
  }
  return missing;
}

std::vector<std::string> RpmPackageManager::files_of(const std::string& package) {
  auto result = run_process(rpm_command(context_, {"-ql", package}));
  if (!result.succeeded()) return {};
  std::vector<std::string> files;
  for (auto& line : output_lines(result.out)) {
    if (line.front() == '/') files.push_back(std::move(line));  // not "(contains no files)"
  }
  return files;
}

std::vector<std::string> RpmPackageManager::run_install(const std::vector<std::string>& arguments,
                                                        const std::vector<std::string>& expected) {
  auto before = installed_names();
  log::info(fmt::format("installing {} with {}", fmt::join(arguments, " "), name()));
  auto result = run_tool(install_command(context_, arguments));
  auto missing = transaction_succeeded(context_.tool, result) ? not_installed(expected) : expected;
  if (!transaction_succeeded(context_.tool, result) || !missing.empty()) {
    throw Error(ExitCode::operation_failed,
                fmt::format("{} install {} {}{}:\n{}", name(), fmt::join(arguments, " "), result.describe_end(),
                            missing.empty() ? "" : fmt::format(" ({} not installed)", fmt::join(missing, ", ")),
                            rpm_tool_errors(result)),
                "see the lines above; the bundle's packages also need packages from the distro's own repositories "
                "(dkms, kernel-devel, perl...): make them reachable (or mirrored) and run ibdriver again");
  }
  if (!result.succeeded()) log::warning(fmt::format("{} finished with notes ({}):\n{}", name(), result.describe_end(), result.tail(6)));
  auto after = installed_names();
  std::vector<std::string> added;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(added));
  return added;
}

std::vector<std::string> RpmPackageManager::would_install(const std::vector<std::string>& packages) {
  auto result = run_tool(dry_run_install_command(context_, packages));  // --assumeno exits 1 by design
  return installed_in_transaction(context_.tool, result.out);
}

std::vector<std::string> RpmPackageManager::exclude_from_distribution(const std::vector<std::string>& bundle_sources,
                                                                     const std::function<void(const ConfigChange&)>& record) {
  if (context_.tool != RpmFrontEnd::dnf) return {};
  std::vector<std::string> bundle_ids;
  for (const auto& source : bundle_sources) {
    for (auto& id : repository_ids(read_file_if_exists(root_.path(source), 1 << 20).value_or(""))) bundle_ids.push_back(std::move(id));
  }
  if (bundle_ids.empty()) return {};
  auto offered = run_tool(repoquery_names_command(context_, bundle_ids, {}));
  auto bundle_names = output_lines(offered.out);
  if (!offered.succeeded() || bundle_names.empty()) {
    log::debug(fmt::format("dnf repoquery of {}: {}", fmt::join(bundle_ids, ","), offered.tail(3)));
    return {};
  }
  std::sort(bundle_names.begin(), bundle_names.end());
  bundle_names.erase(std::unique(bundle_names.begin(), bundle_names.end()), bundle_names.end());
  std::vector<std::string> excluded;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(root_.path(repository_folder()), error)) {
    if (entry.path().extension() != ".repo") continue;
    auto text = read_file_if_exists(entry.path(), 1 << 20);
    if (!text) continue;
    auto edited = *text;
    for (const auto& id : repository_ids(*text)) {
      if (!is_baseos_repository(id)) continue;
      // Only what this repository itself has (an unreachable one answers nothing: nothing to exclude).
      auto both = output_lines(run_tool(repoquery_names_command(context_, {id}, bundle_names)).out);
      std::sort(both.begin(), both.end());
      both.erase(std::unique(both.begin(), both.end()), both.end());
      if (both.empty()) continue;
      edited = with_excluded_packages(edited, id, both);
      log::info(fmt::format("excluded {} from the distribution's repository {} ({}): the bundle's versions replace them",
                            fmt::join(both, " "), id, (repository_folder() + "/" + entry.path().filename().string())));
      excluded.insert(excluded.end(), both.begin(), both.end());
    }
    if (edited == *text) continue;
    auto system_file = repository_folder() + "/" + entry.path().filename().string();
    record({system_file, "edited", *text});
    write_file_atomically(entry.path(), edited, 0644);
  }
  std::sort(excluded.begin(), excluded.end());
  excluded.erase(std::unique(excluded.begin(), excluded.end()), excluded.end());
  return excluded;
}

DryRun RpmPackageManager::dry_run(const std::vector<std::string>& packages) {
  auto result = run_tool(dry_run_install_command(context_, packages));
  if (!dry_run_resolved(context_.tool, result)) return {false, {}, rpm_tool_errors(result)};
  return {true, installed_in_transaction(context_.tool, result.out), {}};
}

std::vector<ReplacedPackage> RpmPackageManager::would_replace(const std::vector<std::string>& packages) {
  auto result = run_tool(dry_run_install_command(context_, packages));  // --assumeno exits 1 by design
  auto names = replaced_in_transaction(context_.tool, result.out);
  if (names.empty()) return {};
  std::vector<std::string> arguments{"-q", "--qf", "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE} %{ARCH}\\n"};
  arguments.insert(arguments.end(), names.begin(), names.end());
  std::vector<ReplacedPackage> replaced;
  for (const auto& line : output_lines(run_process(rpm_command(context_, arguments)).out)) {
    auto fields = text::split(line, ' ');
    if (fields.size() != 3) continue;  // "package X is not installed"
    std::string version(fields[1]);
    if (version.rfind("0:", 0) == 0) version.erase(0, 2);  // rpm spells no epoch as 0
    replaced.push_back({std::string(fields[0]), version, std::string(fields[2]), {}});
  }
  return replaced;
}

void RpmPackageManager::keep_files(std::vector<ReplacedPackage>& replaced, const std::string& folder) {
  std::error_code error;
  fs::create_directories(root_.path(folder), error);
  for (auto& package : replaced) {
    auto version = package.version.substr(package.version.find(':') == std::string::npos ? 0 : package.version.find(':') + 1);
    auto file_name = fmt::format("{}-{}.{}.rpm", package.name, version, package.architecture);
    // The front ends' caches (kept only where keepcache is on), else the repositories (dnf download).
    for (const char* cache : {"/var/cache/dnf", "/var/cache/yum", "/var/cache/tdnf", "/var/cache/zypp/packages"}) {
      for (auto entry = fs::recursive_directory_iterator(root_.path(cache), error); !error && entry != fs::recursive_directory_iterator();
           entry.increment(error)) {
        if (entry->path().filename() == file_name) fs::copy_file(entry->path(), root_.path(folder) / file_name, fs::copy_options::overwrite_existing, error);
      }
      error.clear();
    }
    if (!fs::exists(root_.path(folder) / file_name, error) && context_.tool == RpmFrontEnd::dnf) {
      auto downloaded = run_tool(download_command(context_, root_.path(folder).string(),
                                                  fmt::format("{}-{}.{}", package.name, version, package.architecture)));
      if (!downloaded.succeeded()) log::debug(fmt::format("dnf download {}: {}", file_name, downloaded.tail(2)));
    }
    if (fs::exists(root_.path(folder) / file_name, error)) {
      package.kept_file = (fs::path(folder) / file_name).string();
    } else {
      log::warning(fmt::format("{} {} is upgraded by the bundle and no copy of it could be kept: uninstall will need a repository that has it",
                               package.name, package.version));
    }
  }
}

std::vector<std::string> RpmPackageManager::restore(const std::vector<ReplacedPackage>& replaced) {
  std::vector<std::string> failed;
  for (const auto& package : replaced) {
    auto version = package.version.substr(package.version.find(':') == std::string::npos ? 0 : package.version.find(':') + 1);
    std::error_code error;
    auto argument = !package.kept_file.empty() && fs::exists(root_.path(package.kept_file), error)
                        ? root_.path(package.kept_file).string()  // the tools read the host's path
                        : fmt::format("{}-{}.{}", package.name, version, package.architecture);
    auto result = run_tool(downgrade_command(context_, {argument}));
    if (!transaction_succeeded(context_.tool, result)) {
      log::warning(fmt::format("cannot restore {} {}: {}", package.name, package.version, rpm_tool_errors(result)));
      failed.push_back(package.name);
    }
  }
  return failed;
}

std::vector<std::string> RpmPackageManager::install(const std::vector<std::string>& packages) {
  return run_install(packages, packages);
}

std::string RpmPackageManager::package_name_of(const fs::path& package_file) {
  auto file = root_.path(package_file.string()).string();
  auto query = run_process({"rpm", "-qp", "--qf", "%{NAME}", file});
  auto package = std::string(text::trim(query.out));
  if (!query.succeeded() || package.empty()) {
    throw Error(ExitCode::operation_failed, fmt::format("{} is not a readable .rpm package: {}", file, query.tail(4)),
                "the bundle is damaged or not an RPM: fetch it again");
  }
  return package;
}

std::vector<std::string> RpmPackageManager::install_file(const fs::path& package_file) {
  auto package = package_name_of(package_file);
  return run_install({root_.path(package_file.string()).string()}, {package});  // the tools read the host's path
}

void RpmPackageManager::remove(const std::vector<std::string>& packages) {
  if (packages.empty()) return;
  auto result = run_tool(remove_command(context_, packages));
  if (transaction_succeeded(context_.tool, result)) return;
  auto gone = not_installed(packages);
  if (gone.size() == packages.size()) {
    // The packages are gone; what failed came after (zypper cannot cache an rpm database left empty).
    log::warning(fmt::format("{} removed {} but {}:\n{}", name(), fmt::join(packages, " "), result.describe_end(),
                             rpm_tool_errors(result)));
    return;
  }
  throw Error(ExitCode::operation_failed,
              fmt::format("{} remove {} {}:\n{}", name(), fmt::join(packages, " "), result.describe_end(), rpm_tool_errors(result)),
              "see the lines above, then run `ibdriver uninstall` again");
}

bool RpmPackageManager::is_source_file(const std::string& path) const {
  auto folder = repository_folder() + "/";
  return path.rfind(folder, 0) == 0 && path.find('/', folder.size()) == std::string::npos && path.size() > folder.size() + 5 &&
         path.compare(path.size() - 5, 5, ".repo") == 0;
}

void RpmPackageManager::refresh_source(const std::string& source_file) {
  auto ids = repository_ids(read_file(root_.path(source_file), 1024 * 1024));
  if (ids.empty()) {
    throw Error(ExitCode::operation_failed, fmt::format("{} defines no repository", source_file),
                "the DOCA-host package is damaged: fetch it again");
  }
  auto result = run_tool(refresh_command(context_, ids));
  if (!result.succeeded()) {
    throw Error(ExitCode::operation_failed,
                fmt::format("{} could not read the repository {} from {} ({}):\n{}", name(), fmt::join(ids, ", "),
                            source_file, result.describe_end(), rpm_tool_errors(result)),
                "check the repository the DOCA-host package installed");
  }
}

}  // namespace ibdriver::install
