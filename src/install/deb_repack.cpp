#include "install/deb_repack.hpp"

#include <sys/stat.h>

#include <system_error>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "archive/archive_writer.hpp"
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

  // control.tar.gz: control, then what dpkg kept of the package's control members.
  auto info = root.path("/var/lib/dpkg/info");
  {
    archive::ArchiveWriter members(staging.path / "control.tar.gz", archive::WriteFormat::tar_gzip);
    members.add_file("./control", control, 0644, 0);
    for (auto member : control_members) {
      for (const auto& stem : {qualified, name}) {
        auto file = info / fmt::format("{}.{}", stem, member);
        if (!fs::exists(file, error)) continue;
        struct stat details {};
        mode_t mode = ::stat(file.c_str(), &details) == 0 ? (details.st_mode & 0777) : 0644;
        members.add_file(fmt::format("./{}", member), read_file_if_exists(file, max_info_bytes).value_or(""), mode, 0);
        break;
      }
    }
    members.finish();
  }
  // data.tar.gz: every path the package installed, as it is now.
  {
    archive::ArchiveWriter data(staging.path / "data.tar.gz", archive::WriteFormat::tar_gzip);
    data.add_from_disk("./", root.path("/"));
    const auto listed = dpkg_query(root, {"-L"}, qualified);  // split() views into it: it must outlive the loop
    for (auto line : text::split(listed, '\n')) {
      if (line.empty() || line.front() != '/' || line == "/.") continue;  // also skips "diverted by" notes
      auto path = std::string(line);
      auto on_disk = root.path(path);
      if (!fs::exists(fs::symlink_status(on_disk, error))) {
        log::warning(fmt::format("{} lists {}, which is gone: the repacked {} leaves it out", name, path, target.filename().string()));
        continue;
      }
      data.add_from_disk("." + path, on_disk);
    }
    data.finish();
  }
  {
    auto partial = staging.path / target.filename();
    archive::ArchiveWriter deb(partial, archive::WriteFormat::ar);
    deb.add_file("debian-binary", "2.0\n", 0644, 0);
    deb.add_from_disk("control.tar.gz", staging.path / "control.tar.gz");
    deb.add_from_disk("data.tar.gz", staging.path / "data.tar.gz");
    deb.finish();
    fs::rename(partial, target, error);
    if (error) throw SystemError(ExitCode::operation_failed, fmt::format("moving the repacked {} to {}", name, target.string()), error.value());
  }
  log::info(fmt::format("kept {} {} as {} (repacked from the installed files)", name, version, target.string()));
  return target;
}

}  // namespace ibdriver::install
