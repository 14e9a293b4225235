#include "install/apt.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <set>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/process.hpp"
#include "core/text.hpp"
#include "core/unique_fd.hpp"

namespace ibdriver::install {

namespace {

constexpr const char* source_file = "/etc/apt/sources.list.d/ibdriver.list";

// apt's own error lines ("E: ..."), else the tail of its output.
std::string apt_errors(const ProcessResult& result) {
  std::vector<std::string> lines;
  for (const auto& stream : {result.err, result.out}) {
    for (auto line : text::split(stream, '\n')) {
      if (line.substr(0, 3) == "E: " || line.substr(0, 6) == "dpkg: ") lines.emplace_back(text::trim(line));
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

void AptPackageManager::wait_for_lock_message() const {
  // Who holds the dpkg front-end lock, if anyone: said once, then apt waits (DPkg::Lock::Timeout).
  UniqueFd fd(::open("/var/lib/dpkg/lock-frontend", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return;
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  if (::fcntl(fd.get(), F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK) {
    std::string holder;
    if (auto comm = read_file_if_exists(fmt::format("/proc/{}/comm", probe.l_pid), 256)) holder = std::string(text::trim(*comm));
    log::info(fmt::format("another package manager (PID {}{}) holds the dpkg lock: waiting up to {} s", probe.l_pid,
                          holder.empty() ? "" : ", " + holder, settings_.lock_timeout.count()));
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
  ProcessOptions options;
  options.time_limit = settings_.command_timeout;
  options.extra_environment = {"DEBIAN_FRONTEND=noninteractive", "LC_ALL=C"};
  wait_for_lock_message();
  // Only this source is refreshed: no network, and other sources' state is left alone.
  auto result = run_process({"apt-get", "update", "-q", "-o", fmt::format("Dir::Etc::sourcelist={}", source),
                             "-o", "Dir::Etc::sourceparts=-", "-o", "APT::Get::List-Cleanup=0", "-o",
                             fmt::format("DPkg::Lock::Timeout={}", settings_.lock_timeout.count())},
                            options);
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
  // A run killed while dpkg worked (its apt-get dies with it, of SIGPIPE) leaves dpkg's journal in
  // /var/lib/dpkg/updates, and every apt-get refuses until `dpkg --configure -a` finished the job.
  std::error_code error;
  if (std::filesystem::is_empty("/var/lib/dpkg/updates", error) || error) return;
  log::warning("dpkg was interrupted (an earlier run was killed): finishing its work with `dpkg --configure -a`");
  ProcessOptions options;
  options.time_limit = settings_.command_timeout;
  options.extra_environment = {"DEBIAN_FRONTEND=noninteractive", "LC_ALL=C"};
  wait_for_lock_message();
  auto result = run_process({"dpkg", "--configure", "-a", "--force-confdef", "--force-confold"}, options);
  if (!result.succeeded()) {
    throw Error(ExitCode::operation_failed, fmt::format("dpkg --configure -a {}:\n{}", result.describe_end(), apt_errors(result)),
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
                                "-o", fmt::format("DPkg::Lock::Timeout={}", settings_.lock_timeout.count()),
                                "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"};
  argv.insert(argv.end(), packages.begin(), packages.end());
  ProcessOptions options;
  options.time_limit = settings_.command_timeout;
  options.extra_environment = {"DEBIAN_FRONTEND=noninteractive", "LC_ALL=C", "NEEDRESTART_MODE=a"};
  wait_for_lock_message();
  log::info(fmt::format("installing {} with apt", fmt::join(packages, " ")));
  auto result = run_process(argv, options);
  if (!result.succeeded()) {
    throw Error(ExitCode::operation_failed,
                fmt::format("apt-get install {} {}:\n{}", fmt::join(packages, " "), result.describe_end(), apt_errors(result)),
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

void AptPackageManager::remove(const std::vector<std::string>& packages) {
  if (packages.empty()) return;
  finish_interrupted_dpkg();
  std::vector<std::string> argv{"apt-get", "purge", "-y", "-q", "-o",
                                fmt::format("DPkg::Lock::Timeout={}", settings_.lock_timeout.count())};
  argv.insert(argv.end(), packages.begin(), packages.end());
  ProcessOptions options;
  options.time_limit = settings_.command_timeout;
  options.extra_environment = {"DEBIAN_FRONTEND=noninteractive", "LC_ALL=C"};
  wait_for_lock_message();
  auto result = run_process(argv, options);
  if (!result.succeeded()) {
    throw Error(ExitCode::operation_failed,
                fmt::format("apt-get purge {} {}:\n{}", fmt::join(packages, " "), result.describe_end(), apt_errors(result)));
  }
}

}  // namespace ibdriver::install
