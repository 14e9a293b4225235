#include "install/doca_host.hpp"

#include <unistd.h>

#include <algorithm>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"

namespace ibdriver::install {

namespace fs = std::filesystem;

namespace {

PackageFormat format_of(const std::string& file_name) {
  auto dot = file_name.rfind('.');
  return dot != std::string::npos && file_name.substr(dot) == ".rpm" ? PackageFormat::rpm : PackageFormat::deb;
}

bool is_repository(const fs::path& folder, PackageFormat format) {
  std::error_code error;
  if (format == PackageFormat::rpm) return fs::exists(folder / "repodata" / "repomd.xml", error);
  return fs::exists(folder / "Packages", error) || fs::exists(folder / "Packages.gz", error) ||
         fs::exists(folder / "Packages.xz", error);
}

}  // namespace

DocaHostBundle inspect_doca_host_bundle(const fs::path& unpacked, const fs::path& package_file,
                                        const catalog::DriverRelease& release, const PackageManager& packages) {
  auto format = format_of(release.file_name());
  if (format != packages.format()) {
    throw Error(ExitCode::operation_failed,
                fmt::format("{} is a .{} package; this OS installs .{} packages with {}", release.file_name(), to_string(format),
                            to_string(packages.format()), packages.name()),
                "use the DOCA-host bundle built for this OS (the catalog row for it, see `ibdriver plan`)");
  }
  DocaHostBundle bundle;
  bundle.package_file = package_file;
  std::error_code error;
  for (auto entry = fs::recursive_directory_iterator(unpacked, error); !error && entry != fs::recursive_directory_iterator();
       entry.increment(error)) {
    auto system_path = "/" + fs::relative(entry->path(), unpacked, error).generic_string();
    if (entry->is_regular_file(error) && packages.is_source_file(system_path)) bundle.source_files.push_back(system_path);
    if (entry->is_directory(error) && is_repository(entry->path(), format)) bundle.repositories.push_back(system_path);
  }
  if (bundle.repositories.empty()) {
    throw Error(ExitCode::operation_failed,
                fmt::format("{} is not a DOCA-host repository package: it carries no local {} repository", release.file_name(),
                            format == PackageFormat::rpm ? "rpm-md (repodata/)" : "apt (Packages)"),
                "check the catalog row or the pinned URL: DOCA-host bundles are doca-host_*.deb / doca-host-*.rpm");
  }
  return bundle;
}

void keep_package_file(const fs::path& verified, const fs::path& target) {
  auto temporary = target;
  temporary += fmt::format(".tmp-{}", ::getpid());
  std::error_code error;
  fs::remove(temporary, error);
  // A hard link costs no space (the cache only ever renames files into place, never rewrites them).
  fs::create_hard_link(verified, temporary, error);
  if (error) fs::copy_file(verified, temporary, fs::copy_options::overwrite_existing, error);
  if (!error) fs::rename(temporary, target, error);
  if (error) {
    fs::remove(temporary, error);
    throw FileError(ExitCode::operation_failed, "copying the verified DOCA-host package", target, error.value());
  }
}

namespace {

// The package sources the repository package installed.
std::vector<std::string> installed_sources(PackageManager& packages, const SystemRoot& root, const DocaHostBundle& bundle,
                                           const std::string& package) {
  auto sources = bundle.source_files;
  for (const auto& file : packages.files_of(package)) {
    if (packages.is_source_file(file) && std::find(sources.begin(), sources.end(), file) == sources.end()) sources.push_back(file);
  }
  if (!sources.empty()) return sources;
  // None among its files: one its scripts wrote, recognised by the repository folder it names.
  for (const char* folder : {"/etc/apt/sources.list.d", "/etc/yum.repos.d", "/etc/zypp/repos.d"}) {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(root.path(folder), error)) {
      auto file = std::string(folder) + "/" + entry.path().filename().string();
      if (!packages.is_source_file(file)) continue;
      auto text = read_file_if_exists(entry.path(), 1024 * 1024);
      bool names_repository = text && std::any_of(bundle.repositories.begin(), bundle.repositories.end(),
                                                  [&](const std::string& repository) { return text->find(repository) != std::string::npos; });
      if (names_repository) sources.push_back(file);
    }
  }
  return sources;
}

}  // namespace

void add_doca_host_repository(PackageManager& packages, const SystemRoot& root, const DocaHostBundle& bundle,
                              const std::function<void(const std::vector<std::string>&)>& record) {
  log::info(fmt::format("installing the DOCA-host repository package {}", bundle.package_file.filename().string()));
  auto package = packages.package_name_of(bundle.package_file);
  // Recorded before it is installed: a run killed in between still leaves it for uninstall to remove.
  record(packages.not_installed({package}));
  record(packages.install_file(bundle.package_file));
  auto sources = installed_sources(packages, root, bundle, package);
  if (sources.empty()) {
    throw Error(ExitCode::operation_failed,
                fmt::format("{} installed {}, but no package source {} reads names its repository {}",
                            bundle.package_file.filename().string(), package, packages.name(), fmt::join(bundle.repositories, ", ")),
                "this DOCA-host package is not laid out as ibdriver expects: `ibdriver uninstall` removes it again");
  }
  for (const auto& source : sources) packages.refresh_source(source);
}

}  // namespace ibdriver::install
