#include "install/prebuilt_modules.hpp"

#include <algorithm>
#include <set>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "core/process.hpp"
#include "core/text.hpp"

namespace ibdriver::install {

namespace fs = std::filesystem;

namespace {

// "/lib/modules/<kernel>/extra/mlnx-ofa_kernel/mlx5_core.ko" -> "<kernel>" (also .ko.xz and /usr/lib/modules).
std::string kernel_of_module_path(std::string_view path) {
  for (std::string_view prefix : {"/lib/modules/", "/usr/lib/modules/"}) {
    if (path.substr(0, prefix.size()) != prefix) continue;
    auto rest = path.substr(prefix.size());
    auto slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0) return {};
    if (fs::path(std::string(path)).filename().string().find(".ko") == std::string::npos) return {};
    return std::string(rest.substr(0, slash));
  }
  return {};
}

// What a kernel package is called where dnf would pull one in ("kernel", "kernel-core", "kernel-uek",
// SLES "kernel-default", "kernel-azure"), not NVIDIA's kernel-mft tools.
bool is_kernel_package(const std::string& name) {
  return name == "kernel" || (name.rfind("kernel-", 0) == 0 && name.rfind("kernel-mft", 0) != 0);
}

// RHEL's kernel release names its package without the architecture: 5.14.0-427.13.1.el9_4.x86_64 ->
// kernel-core-5.14.0-427.13.1.el9_4.
std::string kernel_package_hint(const std::string& kernel) {
  for (std::string_view arch : {".x86_64", ".aarch64"}) {
    if (kernel.size() > arch.size() && kernel.compare(kernel.size() - arch.size(), arch.size(), arch) == 0) {
      return "kernel-core-" + kernel.substr(0, kernel.size() - arch.size());
    }
  }
  return fmt::format("the kernel package of {}", kernel);
}

}  // namespace

PrebuiltModules find_prebuilt_modules(const fs::path& folder) {
  PrebuiltModules prebuilt;
  std::set<std::string> kernels;
  std::vector<fs::path> files;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    if (entry.path().extension() == ".rpm") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    auto listed = run_process({"rpm", "-qp", "--qf", "%{NAME}\\n", "-l", file.string()});
    if (!listed.succeeded()) {
      throw Error(ExitCode::operation_failed, fmt::format("rpm cannot read {}: {}", file.string(), listed.tail(3)),
                  "the bundle is damaged: fetch it again (ibdriver fetch) or check its SHA-256");
    }
    auto lines = text::split(listed.out, '\n');
    if (lines.empty()) continue;
    std::string name(text::trim(lines.front()));
    bool carries = false;
    for (std::size_t i = 1; i < lines.size(); ++i) {
      auto kernel = kernel_of_module_path(text::trim(lines[i]));
      if (kernel.empty()) continue;
      kernels.insert(kernel);
      carries = true;
    }
    if (carries) prebuilt.packages.push_back(name);
  }
  std::sort(prebuilt.packages.begin(), prebuilt.packages.end());
  prebuilt.kernels.assign(kernels.begin(), kernels.end());
  return prebuilt;
}

void require_prebuilt_fit(PackageManager& packages, const std::vector<std::string>& names, const PrebuiltModules& prebuilt,
                          const std::vector<std::string>& installed_kernels, const fs::path& bundle_top) {
  auto answer = packages.dry_run(names);
  std::vector<std::string> pulled_kernels;
  for (const auto& name : answer.installs) {
    if (is_kernel_package(name) && std::find(prebuilt.packages.begin(), prebuilt.packages.end(), name) == prebuilt.packages.end()) {
      pulled_kernels.push_back(name);
    }
  }
  if (answer.resolved && pulled_kernels.empty()) return;
  auto built_for = prebuilt.kernels.empty() ? std::string("(unknown)") : fmt::format("{}", fmt::join(prebuilt.kernels, ", "));
  auto why = answer.resolved
                 ? fmt::format("{} would install {} to satisfy them", packages.name(), fmt::join(pulled_kernels, ", "))
                 : fmt::format("{} cannot install them:\n{}", packages.name(), answer.problems);
  auto target = installed_kernels.empty() ? std::string("$(uname -r)") : installed_kernels.back();
  auto script = bundle_top / "mlnx_add_kernel_support.sh";
  throw Error(ExitCode::operation_failed,
              fmt::format("the bundle's {} are prebuilt for kernel {} and fit no installed kernel ({}); nothing was installed: {}",
                          fmt::join(prebuilt.packages, ", "), built_for,
                          installed_kernels.empty() ? std::string("none found") : fmt::format("{}", fmt::join(installed_kernels, ", ")), why),
              fmt::format("either install and boot the kernel they were built for ({}), then run ibdriver again; or rebuild the "
                          "bundle for your kernel: {} -m {} -k {} --make-tgz, and install the .tgz it makes with --driver-url/--bundle",
                          prebuilt.kernels.empty() ? std::string("see the kmod packages' names") : kernel_package_hint(prebuilt.kernels.front()),
                          script.string(), bundle_top.string(), target));
}

std::map<std::string, std::vector<std::string>> prebuilt_module_files(PackageManager& packages, const SystemRoot& root,
                                                                      const std::vector<std::string>& names) {
  std::map<std::string, std::vector<std::string>> files;
  std::set<std::string> owned;
  for (const auto& name : names) {
    for (auto& file : packages.files_of(name)) {
      auto kernel = kernel_of_module_path(file);
      if (kernel.empty()) continue;
      owned.insert(file);
      files[kernel].push_back(std::move(file));
    }
  }
  // weak-modules links a kABI-compatible kernel's weak-updates/ to the modules of the kernel they were built for.
  for (const char* modules : {"/lib/modules", "/usr/lib/modules"}) {
    std::error_code error;
    for (const auto& kernel : fs::directory_iterator(root.path(modules), error)) {
      auto weak = kernel.path() / "weak-updates";
      std::error_code walk_error;
      for (auto entry = fs::recursive_directory_iterator(weak, walk_error); !walk_error && entry != fs::recursive_directory_iterator();
           entry.increment(walk_error)) {
        if (!entry->is_symlink(walk_error)) continue;
        auto target = fs::read_symlink(entry->path(), walk_error);
        if (walk_error) break;
        if (target.is_absolute() && owned.count(target.string()) != 0) {
          auto release = kernel.path().filename().string();
          files[release].push_back(fmt::format("{}/{}/weak-updates/{}", modules, release, fs::relative(entry->path(), weak).generic_string()));
        }
      }
    }
  }
  return files;
}

}  // namespace ibdriver::install
