#include "install/apt.hpp"
#include "install/deb_repack.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <signal.h>

#include <chrono>
#include <optional>
#include <regex>
#include <set>
#include <thread>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/cancel.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/process.hpp"
#include "core/text.hpp"
#include "core/unique_fd.hpp"

namespace ibdriver::install {

namespace {

constexpr const char* source_file = "/etc/apt/sources.list.d/ibdriver.list";

// A DKMS build that failed inside a package's postinst (dh_dkms) names its make.log: its last lines
// say why (the compiler's errors), which apt's own lines do not.
std::string dkms_make_log_tail(const ProcessResult& result) {
  static const std::regex make_log(R"((/var/lib/dkms/\S+/make\.log))");
  for (const auto& stream : {result.out, result.err}) {
    std::smatch match;
    if (!std::regex_search(stream, match, make_log)) continue;
    auto log_text = read_file_if_exists(match[1].str(), 4 * 1024 * 1024);
    if (!log_text) continue;
    auto lines = text::split(*log_text, '\n');
    std::string tail;
    for (auto line = lines.size() > 12 ? lines.end() - 12 : lines.begin(); line != lines.end(); ++line) tail += "\n  " + std::string(*line);
    return fmt::format("\n{} ends with:{}", match[1].str(), tail);
  }
  return {};
}

// apt's and dpkg's own error lines ("E: ...", "dpkg: ..."), with DKMS's ("Error! ...": a build in a
// postinst, which says why dpkg gave up), else the tail of its output.
std::string apt_errors(const ProcessResult& result) {
  std::vector<std::string> lines;
  for (const auto& stream : {result.err, result.out}) {
    for (auto line : text::split(stream, '\n')) {
      if (line.substr(0, 3) == "E: " || line.substr(0, 6) == "dpkg: " || line.substr(0, 6) == "Error!") lines.emplace_back(text::trim(line));
    }
  }
  if (lines.empty()) return result.tail(8);
  return fmt::format("{}", fmt::join(lines, "\n"));
}

}  // namespace

AptPackageManager::AptPackageManager(const SystemRoot& root, const PackageManagerSettings& settings)
    : root_(root), settings_(settings) {
  if (!root_.is_host_root()) {
    throw Error(ExitCode::usage, "installing packages with apt needs the system root to be / (run ibdriver inside the chroot instead)",
                "apt and dpkg change the system they run on");
  }
}

namespace {

// Marks the processes ibdriver starts, so a later run can tell one an earlier, killed run left behind.
constexpr const char* run_marker = "IBDRIVER_RUN_PID";

// The process holding a dpkg lock (fcntl record lock, as dpkg and apt take them), if any.
std::optional<pid_t> lock_holder(const char* lock_file) {
  UniqueFd fd(::open(lock_file, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  if (::fcntl(fd.get(), F_GETLK, &probe) != 0 || probe.l_type == F_UNLCK) return std::nullopt;
  return probe.l_pid;
}

// "PID 812, apt-get, left running by an earlier ibdriver run (PID 790) that was killed".
std::string describe_holder(pid_t pid) {
  std::string text = fmt::format("PID {}", pid);
  if (auto comm = read_file_if_exists(fmt::format("/proc/{}/comm", pid), 256)) text += ", " + std::string(text::trim(*comm));
  auto environment = read_file_if_exists(fmt::format("/proc/{}/environ", pid), 1024 * 1024).value_or("");
  for (auto entry : text::split(environment, '\0')) {
    auto prefix = std::string(run_marker) + "=";
    if (entry.rfind(prefix, 0) != 0) continue;
    auto parent = text::parse_decimal(entry.substr(prefix.size()));
    if (parent && *parent != ::getpid() && ::kill(static_cast<pid_t>(*parent), 0) != 0) {
      text += fmt::format(", left running by an earlier ibdriver run (PID {}) that was killed", *parent);
    }
  }
  return text;
}

bool failed_on_lock(const ProcessResult& result) {
  for (const auto& stream : {result.err, result.out}) {
    for (const char* sign : {"Could not get lock", "is locked by another process", "lock was locked by another process",
                             "unable to acquire the dpkg frontend lock", "Unable to acquire the dpkg frontend lock"}) {
      if (stream.find(sign) != std::string::npos) return true;
    }
  }
  return false;
}

}  // namespace

ProcessResult AptPackageManager::run_locked(const std::vector<std::string>& argv) const {
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + settings_.lock_timeout;
  ProcessOptions options;
  options.time_limit = settings_.command_timeout;
  options.outlive_owner = true;  // a transaction must not die of SIGPIPE if ibdriver is killed
  options.extra_environment = {"DEBIAN_FRONTEND=noninteractive", "LC_ALL=C", "NEEDRESTART_MODE=a",
                               fmt::format("{}={}", run_marker, ::getpid())};
  std::optional<pid_t> announced;
  while (true) {
    // Every lock dpkg and apt take: an orphan of a killed run may hold the old one only.
    std::optional<pid_t> holder;
    for (const char* lock : {"/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock", "/var/cache/apt/archives/lock",
                             "/var/lib/apt/lists/lock"}) {
      if ((holder = lock_holder(lock))) break;
    }
    if (!holder) {
      auto result = run_process(argv, options);
      if (result.succeeded() || !failed_on_lock(result) || Clock::now() >= deadline) return result;
      continue;  // another process took the lock between the probe and the start: wait for it
    }
    if (Clock::now() >= deadline) {
      throw Error(ExitCode::operation_failed,
                  fmt::format("the dpkg lock is still held after {} s ({}), so {} cannot run", settings_.lock_timeout.count(),
                              describe_holder(*holder), argv.front()),
                  "let that package manager finish (or stop it), then run ibdriver again, or wait longer",
                  {{Knob::lock_wait, std::to_string(2 * settings_.lock_timeout.count())}});
    }
    if (announced != holder) {
      log::info(fmt::format("another package manager ({}) holds the dpkg lock: waiting up to {} s", describe_holder(*holder),
                            settings_.lock_timeout.count()));
      announced = holder;
    }
    throw_if_cancelled("waiting for the dpkg lock");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // polling a lock another process holds
  }
}

std::vector<std::string> AptPackageManager::add_repository(const LocalRepository& repository) {
  write_file_atomically(source_file,
                        fmt::format("# Written by ibdriver: the verified driver bundle's packages. `ibdriver uninstall` removes it.\n"
                                    "deb [trusted=yes] file:{} ./\n",
                                    repository.directory.string()));
  refresh_source(source_file);
  return {source_file};
}

void AptPackageManager::refresh_source(const std::string& source) {
  finish_interrupted_dpkg();
  // Only this source is refreshed: no network, and other sources' state is left alone.
  auto result = run_locked({"apt-get", "update", "-q", "-o", fmt::format("Dir::Etc::sourcelist={}", source), "-o",
                            "Dir::Etc::sourceparts=-", "-o", "APT::Get::List-Cleanup=0"});
  if (!result.succeeded()) {
    throw Error(ExitCode::operation_failed,
                fmt::format("apt-get update of the repository in {} {}:\n{}", source, result.describe_end(), apt_errors(result)),
                "check the bundle's repository and its Packages index");
  }
}

bool AptPackageManager::is_source_file(const std::string& path) const {
  const std::string folder = "/etc/apt/sources.list.d/";
  auto ends_with = [&](std::string_view suffix) {
    return path.size() > suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return path.rfind(folder, 0) == 0 && path.find('/', folder.size()) == std::string::npos &&
         (ends_with(".list") || ends_with(".sources"));
}

void AptPackageManager::remove_repository(const std::vector<std::string>& files) {
  for (const auto& file : files) {
    std::error_code error;
    std::filesystem::remove(file, error);
  }
}

std::vector<std::string> AptPackageManager::not_installed(const std::vector<std::string>& packages) {
  if (packages.empty()) return {};
  std::vector<std::string> argv{"dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\\n"};
  argv.insert(argv.end(), packages.begin(), packages.end());
  auto result = run_process(argv);  // exits 1 when one is unknown; the others are still listed
  std::set<std::string> installed;
  for (auto line : text::split(result.out, '\n')) {
    auto parts = text::split(line, ' ');
    if (parts.size() == 2 && parts[1] == "installed") installed.emplace(parts[0]);
  }
  std::vector<std::string> missing;
  for (const auto& package : packages) {
    if (installed.count(package) == 0) missing.push_back(package);
  }
  return missing;
}

std::vector<std::string> AptPackageManager::files_of(const std::string& package) {
  auto result = run_process({"dpkg-query", "-L", package});
  if (!result.succeeded()) return {};
  std::vector<std::string> files;
  for (auto line : text::split(result.out, '\n')) {
    if (!line.empty()) files.emplace_back(line);
  }
  return files;
}

std::vector<std::string> AptPackageManager::install(const std::vector<std::string>& packages) {
  return install_arguments(packages);
}

std::vector<std::string> AptPackageManager::install_file(const std::filesystem::path& package_file) {
  // An absolute path is what tells apt-get that this is a file, not a package name.
  return install_arguments({std::filesystem::absolute(package_file).string()});
}

std::string AptPackageManager::package_name_of(const std::filesystem::path& package_file) {
  auto result = run_process({"dpkg-deb", "--field", package_file.string(), "Package"});
  auto name = std::string(text::trim(result.out));
  if (!result.succeeded() || name.empty()) {
    throw Error(ExitCode::operation_failed, fmt::format("{} is not a readable .deb package: {}", package_file.string(), result.tail(4)),
                "the bundle is damaged or not a .deb: fetch it again");
  }
  return name;
}

void AptPackageManager::finish_interrupted_dpkg() const {
  // A run killed while dpkg worked leaves dpkg's journal in /var/lib/dpkg/updates (and perhaps its
  // apt-get still running, in its own process group): every apt-get refuses until `dpkg --configure
  // -a` finished the job, which itself waits for whoever holds the lock now.
  std::error_code error;
  if (std::filesystem::is_empty("/var/lib/dpkg/updates", error) || error) return;
  log::warning("dpkg was interrupted (an earlier run was killed): finishing its work with `dpkg --configure -a`");
  auto result = run_locked({"dpkg", "--configure", "-a", "--force-confdef", "--force-confold"});
  if (!result.succeeded()) {
    throw Error(ExitCode::operation_failed,
                fmt::format("dpkg --configure -a {}:\n{}{}", result.describe_end(), apt_errors(result), dkms_make_log_tail(result)),
                "run `dpkg --configure -a` by hand, then ibdriver again");
  }
}

std::vector<std::string> AptPackageManager::install_arguments(const std::vector<std::string>& packages) {
  finish_interrupted_dpkg();
  // What is installed before, to know what this run adds (the metapackage pulls in the rest).
  auto before = run_process({"dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\\n"});
  std::set<std::string> installed_before;
  for (auto line : text::split(before.out, '\n')) {
    auto parts = text::split(line, ' ');
    if (parts.size() == 2 && parts[1] == "installed") installed_before.emplace(parts[0]);
  }
  std::vector<std::string> argv{"apt-get", "install", "-y", "-q", "--no-install-recommends",
                                "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"};
  argv.insert(argv.end(), packages.begin(), packages.end());
  log::info(fmt::format("installing {} with apt", fmt::join(packages, " ")));
  auto result = run_locked(argv);
  if (!result.succeeded()) {
    throw Error(ExitCode::operation_failed,
                fmt::format("apt-get install {} {}:\n{}{}", fmt::join(packages, " "), result.describe_end(), apt_errors(result),
                            dkms_make_log_tail(result)),
                "see the lines above; `apt-get -f install` repairs a half-configured system, then run ibdriver again");
  }
  auto after = run_process({"dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\\n"});
  std::vector<std::string> added;
  for (auto line : text::split(after.out, '\n')) {
    auto parts = text::split(line, ' ');
    if (parts.size() == 2 && parts[1] == "installed" && installed_before.count(std::string(parts[0])) == 0) {
      added.emplace_back(parts[0]);
    }
  }
  return added;
}

namespace {

ProcessResult run_simulation(const std::vector<std::string>& packages) {
  std::vector<std::string> argv{"apt-get", "install", "-s", "-q", "--no-install-recommends"};
  argv.insert(argv.end(), packages.begin(), packages.end());
  ProcessOptions options;
  options.extra_environment = {"LC_ALL=C"};
  return run_process(argv, options);
}

// "Inst mlnx-ofed-hpc (24.10-1.1.4.0 ibdriver:./ [all])": no bracketed old version, so it is new.
std::vector<std::string> newly_installed(std::string_view simulation) {
  static const std::regex fresh(R"(^Inst (\S+) \()");
  std::vector<std::string> names;
  for (auto line : text::split(simulation, '\n')) {
    std::string copy(line);
    std::smatch match;
    if (std::regex_search(copy, match, fresh)) names.push_back(match[1].str());
  }
  return names;
}

}  // namespace

std::string AptPackageManager::simulate(const std::vector<std::string>& packages) const {
  auto result = run_simulation(packages);
  if (!result.succeeded()) {
    throw Error(ExitCode::operation_failed,
                fmt::format("apt-get cannot plan the install of {} {}:\n{}", fmt::join(packages, " "), result.describe_end(), apt_errors(result)),
                "see the lines above: a dependency the bundle needs is missing from the configured repositories");
  }
  return result.out;
}

std::vector<std::string> AptPackageManager::would_install(const std::vector<std::string>& packages) {
  return newly_installed(simulate(packages));
}

DryRun AptPackageManager::dry_run(const std::vector<std::string>& packages) {
  auto result = run_simulation(packages);
  if (!result.succeeded()) return {false, {}, apt_errors(result)};
  return {true, newly_installed(result.out), {}};
}

std::vector<ReplacedPackage> AptPackageManager::would_replace(const std::vector<std::string>& packages) {
  // apt's simulation: "Inst libibverbs1 [44.0-2] (2410mlnx54-1.2410068 ibdriver:./ [amd64])"; the
  // bracketed version is the one installed now, so the line is an upgrade (or a downgrade) in place.
  auto output = simulate(packages);
  static const std::regex upgrade(R"(^Inst (\S+) \[([^\]]+)\] \(\S+ .*\[(\S+)\]\))");
  std::vector<ReplacedPackage> replaced;
  for (auto line : text::split(output, '\n')) {
    std::string copy(line);
    std::smatch match;
    if (std::regex_search(copy, match, upgrade)) replaced.push_back({match[1].str(), match[2].str(), match[3].str(), {}});
  }
  return replaced;
}

void AptPackageManager::keep_files(std::vector<ReplacedPackage>& replaced, const std::string& folder) {
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  for (auto& package : replaced) {
    // dpkg's file name: the epoch's colon is escaped as %3a.
    auto version = package.version;
    if (auto colon = version.find(':'); colon != std::string::npos) version.replace(colon, 1, "%3a");
    auto file_name = fmt::format("{}_{}_{}.deb", package.name, version, package.architecture);
    auto target = std::filesystem::path(folder) / file_name;
    auto cached = std::filesystem::path("/var/cache/apt/archives") / file_name;
    if (std::filesystem::exists(cached, error)) {
      std::filesystem::copy_file(cached, target, std::filesystem::copy_options::overwrite_existing, error);
    }
    // Cloud images clean apt's cache and archives drop superseded versions: rebuilt from what dpkg has
    // installed, as dpkg-repack does, before asking the network (often absent where images are baked).
    if (!std::filesystem::exists(target, error)) {
      try {
        target = repack_installed_package(root_, package.name, package.architecture, folder);
      } catch (const Error& failure) {
        log::warning(fmt::format("{} {} could not be repacked: {}", package.name, package.version, failure.what()));
      }
    }
    if (!std::filesystem::exists(target, error)) {
      ProcessOptions options;
      options.working_directory = folder;
      options.time_limit = settings_.command_timeout;
      options.extra_environment = {"LC_ALL=C"};
      auto downloaded = run_process({"apt-get", "download", "-q", fmt::format("{}={}", package.name, package.version)}, options);
      if (!downloaded.succeeded()) log::debug(fmt::format("apt-get download {}={}: {}", package.name, package.version, downloaded.tail(2)));
    }
    if (std::filesystem::exists(target, error)) {
      package.kept_file = target.string();
    } else {
      log::warning(fmt::format("{} {} is upgraded by the bundle and no copy of it could be kept (not in apt's cache, not in the "
                               "repositories): uninstall will need a repository that has it",
                               package.name, package.version));
    }
  }
}

std::vector<std::string> AptPackageManager::restore(const std::vector<ReplacedPackage>& replaced) {
  if (replaced.empty()) return {};
  auto argument = [](const ReplacedPackage& package) {
    return package.kept_file.empty() || !std::filesystem::exists(package.kept_file) ? fmt::format("{}={}", package.name, package.version)
                                                                                    : package.kept_file;
  };
  std::vector<std::string> base{"apt-get", "install", "-y", "-q", "--allow-downgrades", "--no-install-recommends",
                                "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"};
  auto all = base;
  for (const auto& package : replaced) all.push_back(argument(package));
  finish_interrupted_dpkg();
  if (run_locked(all).succeeded()) return {};
  // One at a time, to name exactly the ones that cannot come back.
  std::vector<std::string> failed;
  for (const auto& package : replaced) {
    auto one = base;
    one.push_back(argument(package));
    auto result = run_locked(one);
    if (!result.succeeded()) {
      log::warning(fmt::format("cannot restore {} {}: {}", package.name, package.version, apt_errors(result)));
      failed.push_back(package.name);
    }
  }
  return failed;
}

void AptPackageManager::remove(const std::vector<std::string>& packages) {
  if (packages.empty()) return;
  finish_interrupted_dpkg();
  std::vector<std::string> argv{"apt-get", "purge", "-y", "-q"};
  argv.insert(argv.end(), packages.begin(), packages.end());
  auto result = run_locked(argv);
  if (!result.succeeded()) {
    throw Error(ExitCode::operation_failed,
                fmt::format("apt-get purge {} {}:\n{}", fmt::join(packages, " "), result.describe_end(), apt_errors(result)));
  }
}

}  // namespace ibdriver::install
