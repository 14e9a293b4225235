#include "pipeline/repair.hpp"

#include <sys/stat.h>
#include <sys/utsname.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <set>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/process.hpp"
#include "core/run_lock.hpp"
#include "core/text.hpp"
#include "install/dkms_builder.hpp"
#include "install/kernel_headers.hpp"
#include "install/kernel_hook.hpp"
#include "install/module_signing.hpp"
#include "platform/kernels.hpp"

namespace ibdriver::pipeline {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm parts{};
  ::gmtime_r(&now, &parts);
  std::array<char, 32> text{};
  auto size = std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return std::string(text.data(), size);
}


// "ibdriver_core" from ".../updates/dkms/ibdriver_core.ko" (or .ko.xz, .ko.zst).
std::string module_name_of(const std::string& file) {
  auto name = fs::path(file).filename().string();
  return name.substr(0, name.find(".ko"));
}

// Brings the kernel's headers with the package manager (journaled), or refuses naming the package.
void ensure_headers(const SystemRoot& root, const RepairOptions& options, install::Journal& journal, const std::string& kernel,
                    const std::vector<std::string>& lacking) {
  auto family = platform::package_family_of(root);
  auto package = platform::kernel_headers_package(family, kernel);
  if (!options.install_headers || package.empty()) {
    throw Error(ExitCode::operation_failed,
                fmt::format("kernel {} lacks the InfiniBand modules ({}) and has no headers (no /lib/modules/{}/build) to build them",
                            kernel, fmt::join(lacking, "; "), kernel),
                package.empty() ? fmt::format("install linux-headers-{} (or your distribution's kernel-devel) and run the repair again", kernel)
                                : fmt::format("install {} and run the repair again, or let the repair bring it", package),
                {{Knob::install_headers, {}}});
  }
  install::PackageManagerSettings settings;
  settings.lock_timeout = options.lock_wait;
  auto packages = install::make_package_manager(family, root, settings);
  install::install_kernel_headers(*packages, root, {{kernel, package}}, journal);
}

}  // namespace

std::string running_kernel_release() {
  utsname machine{};
  ::uname(&machine);
  return machine.release;
}

bool mountinfo_lists_root_mount(std::string_view mountinfo) {
  for (auto line : text::split(mountinfo, '\n')) {
    // proc(5): ID PARENT MAJOR:MINOR ROOT MOUNT-POINT ...: a mount at "/" of its file system's own root
    // (a folder bind-mounted there, as a chroot's may be, has ROOT = that folder).
    auto fields = text::split(line, ' ');
    if (fields.size() > 4 && fields[4] == "/" && fields[3] == "/") return true;
  }
  return false;
}

bool inside_chroot() {
  struct stat own_root {};
  struct stat init_root {};
  if (::stat("/", &own_root) != 0) return false;
  if (::stat("/proc/1/root", &init_root) == 0) {
    return own_root.st_dev != init_root.st_dev || own_root.st_ino != init_root.st_ino;
  }
  // PID 1's root can be out of reach (no CAP_SYS_PTRACE over it, as on this project's CI machine):
  // then the mounts this process sees say it. Mounts outside its root are not listed, so a chroot
  // whose folder is not itself a mount point has no mount at "/"; one whose folder is a bind mount has
  // one of a subfolder. Either is taken for a chroot: when unsure, nothing is loaded into the kernel.
  try {
    auto mountinfo = read_file_if_exists("/proc/self/mountinfo", 4 * 1024 * 1024);
    return mountinfo && !mountinfo_lists_root_mount(*mountinfo);
  } catch (const std::exception& error) {
    log::debug(fmt::format("cannot tell whether this is a chroot: {}", error.what()));
    return false;
  }
}

RepairPlan plan_repair(const SystemRoot& root, const install::JournalRecord& journal, const std::string& kernel) {
  RepairPlan plan;
  std::vector<install::DkmsModule> modules;
  try {
    modules = install::journaled_modules(root, journal);
  } catch (const Error& error) {
    throw Error(error.code(), fmt::format("{}, for kernel {}", error.what(), kernel), error.hint(), error.remedies());
  }
  install::DkmsBuilder builder(root, {});
  plan.missing = builder.missing(modules, kernel);
  std::set<std::string> rebuilding;
  for (const auto& module : modules) {
    bool dependency_rebuilt = std::any_of(module.build_depends.begin(), module.build_depends.end(),
                                          [&](const auto& dependency) { return rebuilding.count(dependency) != 0; });
    if (builder.lacking(module, kernel).empty() && !dependency_rebuilt) continue;
    rebuilding.insert(module.name);
    plan.to_build.push_back(module);
  }
  return plan;
}

RepairResult run_repair(const SystemRoot& root, const RepairOptions& options) {
  auto started = Clock::now();
  RepairResult result;
  RunLock lock(root.path("/run/ibdriver.lock"), options.lock_wait);
  auto journal = install::Journal::load(root);
  auto finish = [&](std::string message) {
    result.message = std::move(message);
    result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    log::info(result.message);
    return result;
  };
  if (!journal) return finish("ibdriver has installed nothing here: nothing to repair");
  result.installed = true;
  auto inventory = platform::detect_kernels(root);
  if (!journal->record().distro_packages()) {
    // As status names them: the kernels the next boot may run that DKMS cannot build for.
    result.kernels_missing_headers = platform::kernels_missing_headers(inventory, platform::package_family_of(root));
    if (!result.kernels_missing_headers.empty()) result.remedies.push_back({Knob::install_headers, {}});
  }
  result.kernel = options.kernel.value_or(inventory.running);
  if (result.kernel.empty()) {
    throw Error(ExitCode::operation_failed, "cannot tell which kernel runs here", "name the kernel to repair",
                {{Knob::kernel, {}}});
  }
  // The ordered kernel hook is put back first: a later kernel then builds in order again.
  std::vector<std::string> names;
  for (const auto& module : journal->record().dkms_modules) names.push_back(module.name);
  if (!names.empty() && !install::kernel_hook_installed(root, names)) {
    install::install_kernel_hook(root, names, [&](const install::ConfigChange& change) { journal->add_config_change(change); });
  }
  auto plan = plan_repair(root, journal->record(), result.kernel);
  result.missing = plan.missing;
  if (plan.to_build.empty()) {
    return finish(fmt::format("kernel {} has every module of {}: nothing to repair", result.kernel, journal->record().release_file));
  }
  auto with_headers = inventory.with_headers();
  if (std::find(with_headers.begin(), with_headers.end(), result.kernel) == with_headers.end()) {
    ensure_headers(root, options, *journal, result.kernel, plan.missing);
  }
  log::info(fmt::format("kernel {} lacks: {}", result.kernel, fmt::join(plan.missing, "; ")));

  std::vector<std::string> rebuilding;
  for (const auto& module : plan.to_build) rebuilding.push_back(module.name + "/" + module.version);
  journal->begin_repair(install::RepairRecord{result.kernel, rebuilding, "running", utc_now()});
  auto certificate = journal->record().mok_key.empty() ? std::optional<std::string>() : journal->record().mok_certificate;
  install::DkmsBuilder builder(root, options.dkms, certificate);
  try {
    result.rebuilt = builder.ensure(install::journaled_modules(root, journal->record()), result.kernel, *journal);
  } catch (const Error& failure) {
    journal->finish_repair(std::string("failed: ") + failure.what());
    throw;
  }
  auto after = builder.missing(install::journaled_modules(root, journal->record()), result.kernel);
  if (!after.empty()) {
    auto why = fmt::format("after DKMS ran, kernel {} still lacks: {}", result.kernel, fmt::join(after, "; "));
    journal->finish_repair("failed: " + why);
    throw Error(ExitCode::operation_failed, why, "see `dkms status` and the make.log under /var/lib/dkms");
  }

  if (!options.load) {
    result.load_skipped = "loading was not asked for";
  } else if (!root.is_host_root()) {
    result.load_skipped = "the system root is not this system";
  } else if (result.kernel != running_kernel_release()) {
    result.load_skipped = fmt::format("kernel {} is not the running kernel", result.kernel);
  } else if (inside_chroot()) {
    result.load_skipped = "inside a chroot, modprobe would load into the host's kernel";
  }
  if (result.load_skipped.empty()) {
    std::vector<std::string> argv{"modprobe", "-a"};
    for (const auto& module : plan.to_build) {
      for (const auto& file : install::dkms_installed_module_files(root, module.name, module.version, result.kernel)) {
        argv.push_back(module_name_of(file));
      }
    }
    auto loaded = run_process(argv);
    if (!loaded.succeeded()) {
      auto why = fmt::format("modprobe {} {}: {}", fmt::join(argv.begin() + 2, argv.end(), " "), loaded.describe_end(), loaded.tail(4));
      journal->finish_repair("failed: " + why);
      const auto& record = journal->record();
      bool rejected = why.find("Key was rejected") != std::string::npos || why.find("Required key not available") != std::string::npos;
      throw Error(ExitCode::operation_failed, "the rebuilt modules were built but cannot be loaded: " + why,
                  rejected && !record.mok_key.empty()
                      ? install::enrolment_steps({record.mok_key, record.mok_certificate, "the journal"},
                                                 install::check_signing_key(root, {record.mok_key, record.mok_certificate, ""}).der)
                      : std::string("see `dmesg` for the kernel's reason"));
    }
    result.loaded.assign(argv.begin() + 2, argv.end());
  } else {
    log::info(fmt::format("not loading the modules: {}", result.load_skipped));
  }
  journal->finish_repair("repaired");
  return finish(fmt::format("kernel {}: rebuilt {}{}", result.kernel, fmt::join(result.rebuilt, ", "),
                            result.loaded.empty() ? fmt::format(" (not loaded: {})", result.load_skipped)
                                                  : fmt::format("; loaded {}", fmt::join(result.loaded, " "))));
}

void to_json(nlohmann::json& out, const RepairResult& result) {
  out = {{"installed", result.installed}, {"kernel", result.kernel},   {"missing", result.missing},
         {"rebuilt", result.rebuilt},     {"loaded", result.loaded},   {"load_skipped", result.load_skipped},
         {"message", result.message},     {"seconds", result.seconds}, {"healthy", true}};
  auto headers = nlohmann::json::array();
  for (const auto& kernel : result.kernels_missing_headers) headers.push_back({{"kernel", kernel.kernel}, {"package", kernel.package}});
  out["kernels_missing_headers"] = headers;
  out["remedies"] = result.remedies;
}

}  // namespace ibdriver::pipeline
