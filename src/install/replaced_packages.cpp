#include "install/replaced_packages.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/process.hpp"
#include "core/text.hpp"

namespace ibdriver::install {

namespace fs = std::filesystem;

namespace {

std::string field_of(std::string_view stanza, std::string_view field) {
  for (auto line : text::split(stanza, '\n')) {
    if (line.size() > field.size() && line.substr(0, field.size()) == field && line[field.size()] == ':') {
      return std::string(text::trim(line.substr(field.size() + 1)));
    }
  }
  return {};
}

std::string apt_spec(const ReplacedPackage& package) {
  return fmt::format("{}:{}={}", package.name, package.architecture, package.version);
}

}  // namespace

std::vector<DebPackage> parse_packages_index(std::string_view text) {
  std::vector<DebPackage> packages;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find("\n\n", start);
    auto stanza = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    DebPackage package{field_of(stanza, "Package"), field_of(stanza, "Version"), field_of(stanza, "Architecture")};
    if (!package.name.empty() && !package.version.empty() && !package.architecture.empty()) packages.push_back(package);
    if (end == std::string_view::npos) break;
    start = end + 2;
  }
  return packages;
}

std::map<std::string, DebPackage> parse_installed(std::string_view text) {
  std::map<std::string, DebPackage> installed;
  for (auto line : text::split(text, '\n')) {
    auto words = text::split(text::trim(line), ' ');
    if (words.size() == 4 && words[3] == "installed") {
      installed[std::string(words[0])] = {std::string(words[0]), std::string(words[1]), std::string(words[2])};
    }
  }
  return installed;
}

std::vector<ReplacedPackage> packages_replaced_by(const std::vector<DebPackage>& bundle,
                                                  const std::map<std::string, DebPackage>& installed) {
  std::vector<ReplacedPackage> replaced;
  for (const auto& offered : bundle) {
    auto found = installed.find(offered.name);
    if (found == installed.end() || found->second.version == offered.version) continue;
    const auto& have = found->second;
    if (offered.architecture != "all" && have.architecture != "all" && offered.architecture != have.architecture) continue;
    bool listed = std::any_of(replaced.begin(), replaced.end(), [&](const auto& r) { return r.name == have.name; });
    if (!listed) replaced.push_back({have.name, have.version, have.architecture, offered.version, {}});
  }
  return replaced;
}

std::string deb_file_name(const DebPackage& package) {
  std::string version = package.version;
  for (auto at = version.find(':'); at != std::string::npos; at = version.find(':', at)) version.replace(at, 1, "%3a");
  return fmt::format("{}_{}_{}.deb", package.name, version, package.architecture);
}

std::vector<ReplacedPackage> keep_replaced_packages(const SystemRoot& root, std::vector<ReplacedPackage> packages) {
  auto folder = root.path(replaced_folder);
  fs::create_directories(folder);
  for (auto& package : packages) {
    auto name = deb_file_name({package.name, package.version, package.architecture});
    auto cached = root.path("/var/cache/apt/archives/" + name);
    std::error_code error;
    if (fs::exists(cached, error)) {
      fs::copy_file(cached, folder / name, fs::copy_options::overwrite_existing);
    } else if (root.is_host_root()) {
      ProcessOptions options;
      options.working_directory = folder.string();
      auto result = run_process({"apt-get", "download", "-q", apt_spec(package)}, options);
      if (!result.succeeded()) log::warning(fmt::format("no copy of {} {} to keep: {}", package.name, package.version, text::trim(result.err)));
    }
    if (fs::exists(folder / name, error)) {
      package.saved = fmt::format("{}/{}", replaced_folder, name);
      log::info(fmt::format("kept {} {} (the bundle replaces it with {}) as {}", package.name, package.version,
                            package.bundle_version, package.saved));
    }
  }
  return packages;
}

void restore_replaced_packages(const SystemRoot& root, const std::vector<ReplacedPackage>& packages) {
  if (packages.empty()) return;
  if (!root.is_host_root()) {
    throw Error(ExitCode::usage, "putting back replaced packages with apt needs the system root to be / (run ibdriver inside the chroot instead)");
  }
  std::vector<std::string> arguments;
  std::vector<const ReplacedPackage*> missing;
  for (const auto& package : packages) {
    std::error_code error;
    if (!package.saved.empty() && fs::exists(root.path(package.saved), error)) {
      arguments.push_back(root.path(package.saved).string());
    } else if (run_process({"apt-cache", "show", apt_spec(package)}).succeeded()) {
      arguments.push_back(apt_spec(package));
    } else {
      missing.push_back(&package);
    }
  }
  if (!arguments.empty()) {
    std::vector<std::string> argv{"apt-get", "install", "-y", "-q", "--allow-downgrades", "--no-install-recommends"};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    ProcessOptions options;
    options.extra_environment = {"DEBIAN_FRONTEND=noninteractive"};
    auto result = run_process(argv, options);
    if (!result.succeeded()) {
      throw Error(ExitCode::operation_failed,
                  fmt::format("apt-get could not put back the packages the driver bundle had replaced ({}): {}",
                              fmt::join(arguments, " "), text::trim(result.err)),
                  fmt::format("run: apt-get install --allow-downgrades {}", fmt::join(arguments, " ")));
    }
    for (const auto& package : packages) {
      std::error_code error;
      if (!package.saved.empty()) fs::remove(root.path(package.saved), error);
    }
  }
  if (!missing.empty()) {
    std::vector<std::string> named;
    std::vector<std::string> specs;
    for (const auto* package : missing) {
      named.push_back(fmt::format("{} {}", package->name, package->version));
      specs.push_back(apt_spec(*package));
    }
    throw Error(ExitCode::operation_failed,
                fmt::format("the distro's {} cannot be put back: no copy was kept and no configured repository has it",
                            fmt::join(named, ", ")),
                fmt::format("add a repository that has it (or a newer one), then run: apt-get install --allow-downgrades {}",
                            fmt::join(specs, " ")));
  }
}

}  // namespace ibdriver::install
