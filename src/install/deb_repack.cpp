#include "install/deb_repack.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <set>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/process.hpp"
#include "core/text.hpp"

namespace ibdriver::install {

namespace fs = std::filesystem;

namespace {

// The control members dpkg keeps in its info folder (dpkg-repack's list; md5sums as recorded).
constexpr std::string_view control_members[] = {"preinst", "postinst", "prerm", "postrm", "config", "templates",
                                               "conffiles", "md5sums", "shlibs", "symbols", "triggers"};
constexpr std::size_t max_info_bytes = 16 * 1024 * 1024;

// Removes a folder tree when it goes out of scope (the staging folder of one repack).
struct RemovedTree {
  fs::path path;
  RemovedTree(const RemovedTree&) = delete;
  RemovedTree& operator=(const RemovedTree&) = delete;
  explicit RemovedTree(fs::path folder) : path(std::move(folder)) {}
  ~RemovedTree() {
    std::error_code error;
    fs::remove_all(path, error);
  }
};

std::string field_value(std::string_view control, std::string_view field) {
  for (auto line : text::split(control, '\n')) {
    if (line.size() > field.size() && line.substr(0, field.size()) == field && line[field.size()] == ':') {
      return std::string(text::trim(line.substr(field.size() + 1)));
    }
  }
  return {};
}

std::string dpkg_query(const SystemRoot& root, const std::vector<std::string>& arguments, const std::string& package) {
  std::vector<std::string> argv{"dpkg-query", "--admindir=" + root.path("/var/lib/dpkg").string()};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  argv.push_back(package);
  auto result = run_process(argv);
  if (!result.succeeded()) {
    throw Error(ExitCode::operation_failed,
                fmt::format("cannot repack {}: {} {}: {}", package, format_command(argv), result.describe_end(), result.tail(3)),
                "check that the package is installed (`dpkg -s`)");
  }
  return result.out;
}

// One installed path into the staging tree as it is on the disk, not following a symbolic link: a
// folder, a link or a file with its mode and owner. False when the path is gone (or is another kind).
// A folder the package ships (`holds_entries`: the list names paths below it) that the system made a
// link (merged /usr: /lib -> usr/lib) stays a folder, as in the original .deb: dpkg installs through
// the system's link, and the link would leave the paths below it nowhere in the tree.
bool copy_entry(const fs::path& source, const fs::path& target, bool holds_entries) {
  struct stat info {};
  if (::lstat(source.c_str(), &info) != 0) return false;
  if (S_ISLNK(info.st_mode) && holds_entries) {
    struct stat followed {};
    if (::stat(source.c_str(), &followed) == 0 && S_ISDIR(followed.st_mode)) info = followed;
  }
  std::error_code error;
  fs::create_directories(target.parent_path(), error);
  if (S_ISDIR(info.st_mode)) {
    fs::create_directory(target, error);
  } else if (S_ISLNK(info.st_mode)) {
    fs::create_symlink(fs::read_symlink(source, error), target, error);
  } else if (S_ISREG(info.st_mode)) {
    fs::copy_file(source, target, fs::copy_options::overwrite_existing, error);
  } else {
    return false;
  }
  if (error) throw SystemError(ExitCode::operation_failed, fmt::format("copying {} to repack it", source.string()), error.value());
  if (::lchown(target.c_str(), info.st_uid, info.st_gid) != 0 ||
      (!S_ISLNK(info.st_mode) && ::chmod(target.c_str(), info.st_mode & 07777) != 0)) {
    throw SystemError(ExitCode::operation_failed, fmt::format("setting the owner and mode of {} to repack it", target.string()), errno);
  }
  return true;
}

}  // namespace

std::string control_from_status(std::string_view stanza) {
  std::string control;
  bool skipping = false;
  for (auto line : text::split(stanza, '\n')) {
    if (line.empty()) continue;
    bool continuation = line.front() == ' ' || line.front() == '\t';
    if (!continuation) {
      auto colon = line.find(':');
      auto field = line.substr(0, colon);
      skipping = field == "Status" || field == "Config-Version" || field == "Conffiles";
    }
    if (skipping) continue;
    control.append(line);
    control.push_back('\n');
  }
  if (field_value(control, "Package").empty() || field_value(control, "Version").empty()) {
    throw Error(ExitCode::operation_failed, "dpkg's status stanza has no Package or Version field: there is nothing to repack");
  }
  return control;
}

fs::path repack_installed_package(const SystemRoot& root, const std::string& name, const std::string& architecture,
                                  const fs::path& folder) {
  // Multi-Arch: same packages are known to dpkg as name:arch, their info files named so too.
  std::string qualified = architecture.empty() || architecture == "all" ? name : fmt::format("{}:{}", name, architecture);
  auto control = control_from_status(dpkg_query(root, {"-s"}, qualified));
  auto version = field_value(control, "Version");
  auto package_architecture = field_value(control, "Architecture");
  std::string file_version = version;
  if (auto colon = file_version.find(':'); colon != std::string::npos) file_version.replace(colon, 1, "%3a");
  auto target = folder / fmt::format("{}_{}_{}.deb", name, file_version, package_architecture);

  std::error_code error;
  fs::create_directories(folder, error);
  RemovedTree staging(folder / fmt::format(".repack-{}", name));
  fs::remove_all(staging.path, error);
  fs::create_directories(staging.path, error);
  if (error) throw SystemError(ExitCode::operation_failed, fmt::format("creating {}", staging.path.string()), error.value());

  // The package's tree as dpkg-deb builds it: DEBIAN/ with control and what dpkg kept of the package's
  // control members, then every path the package installed, as it is now (owners and modes kept).
  auto tree = staging.path / "tree";
  fs::create_directories(tree / "DEBIAN", error);
  fs::permissions(tree / "DEBIAN", fs::perms(0755), error);
  write_file_atomically(tree / "DEBIAN/control", control, 0644);
  auto info = root.path("/var/lib/dpkg/info");
  for (auto member : control_members) {
    for (const auto& stem : {qualified, name}) {
      auto file = info / fmt::format("{}.{}", stem, member);
      if (!fs::exists(file, error)) continue;
      struct stat details {};
      unsigned mode = ::stat(file.c_str(), &details) == 0 ? (details.st_mode & 0755) : 0644;
      write_file_atomically(tree / "DEBIAN" / std::string(member), read_file_if_exists(file, max_info_bytes).value_or(""), mode);
      break;
    }
  }
  const auto listed = dpkg_query(root, {"-L"}, qualified);
  std::vector<std::string> paths;
  std::set<std::string> folders;  // the paths the list names entries below
  for (auto line : text::split(listed, '\n')) {
    if (line.empty() || line.front() != '/' || line == "/.") continue;  // also skips "diverted by" notes
    paths.emplace_back(line);
    folders.insert(fs::path(paths.back()).parent_path().string());
  }
  for (const auto& path : paths) {
    if (!copy_entry(root.path(path), tree / path.substr(1), folders.count(path) != 0)) {
      log::warning(fmt::format("{} lists {}, which is gone: the repacked {} leaves it out", name, path, target.filename().string()));
    }
  }
  // A conffile the admin deleted is left out of the list too (dpkg-deb refuses one the tree lacks).
  if (auto conffiles = read_file_if_exists(tree / "DEBIAN/conffiles", max_info_bytes)) {
    std::string kept;
    for (auto line : text::split(*conffiles, '\n')) {
      auto path = std::string(text::trim(line));
      if (!path.empty() && fs::exists(fs::symlink_status(tree / path.substr(path.find('/') + 1), error))) kept += path + "\n";
    }
    write_file_atomically(tree / "DEBIAN/conffiles", kept, 0644);
  }
  auto partial = staging.path / target.filename();
  std::vector<std::string> argv{"dpkg-deb", "--build", "-Zgzip", tree.string(), partial.string()};
  auto built = run_process(argv);
  if (!built.succeeded()) {
    throw Error(ExitCode::operation_failed, fmt::format("cannot repack {}: {} {}: {}", name, format_command(argv), built.describe_end(), built.tail(4)));
  }
  fs::rename(partial, target, error);
  if (error) throw SystemError(ExitCode::operation_failed, fmt::format("moving the repacked {} to {}", name, target.string()), error.value());
  log::info(fmt::format("kept {} {} as {} (repacked from the installed files)", name, version, target.string()));
  return target;
}

}  // namespace ibdriver::install
