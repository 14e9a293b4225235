#include "pipeline/plan.hpp"

#include <algorithm>
#include <chrono>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/text.hpp"
#include "catalog/channel.hpp"
#include "platform/machine_arch.hpp"
#include "platform/package_family.hpp"

namespace ibdriver::pipeline {

namespace {

using platform::CheckState;

catalog::ResolveRequest resolve_request(const platform::PlatformReport& report, const PlanOptions& options) {
  catalog::ResolveRequest request;
  if (report.os) {
    request.os_id = report.os->id;
    request.os_id_like = report.os->id_like;
    request.os_version = report.os->version();
  }
  request.generations = report.infiniband_generations();
  request.driver_version = options.driver_version;
  request.arch = report.arch;
  return request;
}

struct Chosen {
  std::optional<catalog::Resolution> resolution;
  std::string failure;
  std::string hint;
  Remedies remedies;
  ExitCode code = ExitCode::os_not_supported;  // of the failure: 12 for the catalog's, 14 for a bundle of another arch
};

// The driver for this machine: the pinned one, or the catalog's choice.
Chosen choose_release(const platform::PlatformReport& report, const PlanOptions& options, const catalog::Catalog& catalog) {
  if (options.driver_url) {
    auto release = catalog::pinned_release(*options.driver_url, options.sha256.value_or(""));
    if (release.arch.empty()) {
      release.arch = report.arch;  // the name states none: the packages stage reads it from the contents
    } else if (release.arch != report.arch) {
      // Refused before anything is downloaded or installed: its packages would not install, or with
      // binfmt registered would run under emulation.
      return {std::nullopt,
              fmt::format("the driver bundle {} is built for {}, and this machine is {}", release.file_name(), release.arch, report.arch),
              fmt::format("use the {} bundle of the same release (the file name says {})", report.arch,
                          report.arch == "aarch64" ? "aarch64 or arm64" : "x86_64 or amd64"),
              {{Knob::driver_url, {}}},
              ExitCode::operation_failed};
    }
    return {catalog::Resolution{std::move(release), "pinned by URL and SHA-256"}, {}, {}, {}};
  }
  try {
    return {catalog::resolve(catalog, resolve_request(report, options)), {}, {}, {}};
  } catch (const Error& error) {
    return {std::nullopt, error.what(), error.hint(), error.remedies(), error.code()};
  }
}

void validate_usage(const PlanOptions& options) {
  if (options.driver_url.has_value() != options.sha256.has_value()) {
    throw Error(ExitCode::usage, "a driver URL and its SHA-256 go together",
                "give the SHA-256 of the bundle at the URL, so its bytes can be verified", {{Knob::driver_url, {}}});
  }
  if (options.driver_url && options.driver_version) {
    throw Error(ExitCode::usage, "a driver version cannot be combined with a driver URL",
                "use one: a catalog version, or a URL with its SHA-256");
  }
  if (options.arch && !platform::canonical_arch(*options.arch)) {
    throw Error(ExitCode::usage, fmt::format("the architecture \"{}\" is not one ibdriver knows", text::printable(*options.arch, 40)),
                "use x86_64 (amd64) or aarch64 (arm64), as uname -m prints it");
  }
}

std::vector<PlannedChange> planned_configuration(const SystemRoot& root, const PlanOptions& options) {
  auto present = [&](const char* path) {
    std::error_code error;
    return std::filesystem::exists(root.path(path), error);
  };
  std::vector<PlannedChange> changes;
  std::string modules = options.ipoib ? "ib_ipoib ib_umad rdma_ucm" : "ib_umad rdma_ucm";
  changes.push_back({"/etc/modules-load.d/ibdriver.conf", fmt::format("load {} at boot", modules), present("/etc/modules-load.d")});
  changes.push_back({"/etc/waagent.conf", fmt::format("set OS.EnableRDMA={}", options.ipoib ? "y" : "n"), present("/etc/waagent.conf")});
  changes.push_back({"/etc/infiniband/openib.conf", fmt::format("set IPOIB_LOAD={}", options.ipoib ? "yes" : "no"),
                     present("/etc/infiniband/openib.conf")});
  bool has_openibd = present("/usr/lib/systemd/system/openibd.service") || present("/lib/systemd/system/openibd.service") ||
                     present("/etc/init.d/openibd");
  changes.push_back({"openibd.service", "enable (where installed by the driver)", has_openibd});
  return changes;
}

}  // namespace

namespace {
// Detection, with the os check saying whether the catalog has a release for this OS. The choice it
// made is handed back in `chosen` (when it made one), so a plan does not make it twice.
platform::PlatformReport detect_with(const SystemRoot& root, const PlanOptions& options, const catalog::Catalog& catalog,
                                     std::optional<Chosen>* chosen_out = nullptr) {
  auto report = platform::detect_platform(root, options.detect);
  if (options.arch) report.arch = platform::canonical_arch(*options.arch).value_or(*options.arch);
  auto* os_check = report.find_check("os");
  if (os_check != nullptr && os_check->state != CheckState::failed && report.os) {
    auto chosen = choose_release(report, options, catalog);
    if (chosen_out != nullptr) *chosen_out = chosen;
    if (!chosen.resolution && chosen.code != ExitCode::os_not_supported) {
      // Not the OS's fault (a pinned bundle of another arch): the plan reports it with its own code.
    } else if (!chosen.resolution) {
      if (os_check->state == CheckState::skipped) {
        os_check->message = fmt::format("skipped; would fail: {}", chosen.failure);
      } else {
        os_check->state = CheckState::failed;
        os_check->message = chosen.failure;
        os_check->hint = chosen.hint;
        os_check->remedies = chosen.remedies;
      }
    } else if (os_check->state == CheckState::passed) {
      os_check->message += fmt::format("; driver {} {}", to_string(chosen.resolution->release.kind),
                                       chosen.resolution->release.version);
    }
  }
  return report;
}
}  // namespace

install::NodeSettings node_settings(const Plan& plan, const PlanOptions& options) {
  install::NodeSettings node;
  node.ipoib = options.ipoib;
  node.nvidia_peermem = plan.size_configuration && plan.size_configuration->nvidia_peermem;
  return node;
}

platform::PlatformReport detect(const SystemRoot& root, const PlanOptions& options) {
  validate_usage(options);
  return detect_with(root, options, catalog::load_machine_catalog(root, options.catalog_overlay));
}

Plan make_plan(const SystemRoot& root, const PlanOptions& options) {
  validate_usage(options);
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point from, Clock::time_point to) { return std::chrono::duration<double>(to - from).count(); };
  auto began = Clock::now();
  auto catalog = catalog::load_machine_catalog(root, options.catalog_overlay);
  auto catalog_loaded = Clock::now();
  Plan plan;
  plan.notes = catalog.notes;
  std::optional<Chosen> chosen_by_detection;
  plan.platform = detect_with(root, options, catalog, &chosen_by_detection);
  plan.kernels = options.kernels.empty() ? plan.platform.kernels.with_headers() : options.kernels;
  auto detected = Clock::now();
  // Chosen once: by detection's os check, or here when that check could not look (no os-release).
  auto chosen = chosen_by_detection ? std::move(*chosen_by_detection) : choose_release(plan.platform, options, catalog);
  // Detection's time includes the os check's choice (microseconds); resolve is the catalog's loading
  // (the signed channel's verification included).
  plan.detect_seconds = seconds(catalog_loaded, detected);
  plan.resolve_seconds = seconds(began, catalog_loaded) + seconds(detected, Clock::now());
  // The distribution's packages carry modules prebuilt for its kernels: no headers, no DKMS build.
  bool builds_modules = !chosen.resolution || chosen.resolution->release.downloads();
  if (!builds_modules) {
    plan.notes.push_back(fmt::format("the driver is the distribution's own packages ({}) from its configured repositories: "
                                     "nothing is downloaded, and the dkms stage is skipped because they carry modules prebuilt "
                                     "for the distribution's kernels",
                                     fmt::join(chosen.resolution->release.packages, ", ")));
  } else if (chosen.resolution && chosen.resolution->release.kind == catalog::BundleKind::mofed_tgz && plan.platform.os &&
             platform::package_family(*plan.platform.os) != platform::PackageFamily::apt &&
             platform::package_family(*plan.platform.os) != platform::PackageFamily::unknown) {
    // MLNX_OFED's RPMS/ hold kmod-* packages built for one kernel, and no DKMS packages.
    builds_modules = false;
    plan.notes.push_back(
        "MLNX_OFED's RPM bundles carry kmod packages prebuilt for one kernel, not DKMS sources: nothing is built, and before "
        "anything is installed the package manager is asked whether they fit an installed kernel");
  }
  plan.builds_modules = builds_modules;
  for (const auto& kernel : builds_modules ? options.kernels : std::vector<std::string>{}) {
    auto with_headers = plan.platform.kernels.with_headers();
    if (std::find(with_headers.begin(), with_headers.end(), kernel) == with_headers.end()) {
      plan.notes.push_back(fmt::format("kernel {} has no headers under /lib/modules/{}/build: install its headers package first", kernel, kernel));
    }
  }
  if (!builds_modules) {
    // Nothing below is about kernels when nothing is built for them.
  } else if (plan.kernels.empty()) {
    plan.notes.push_back(fmt::format("no installed kernel has headers, so DKMS cannot build the modules: install the headers of {}",
                                     plan.platform.kernels.running.empty() ? std::string("the running kernel") : plan.platform.kernels.running));
  } else if (!plan.platform.kernels.running.empty() &&
             std::find(plan.kernels.begin(), plan.kernels.end(), plan.platform.kernels.running) == plan.kernels.end()) {
    plan.notes.push_back(fmt::format("the running kernel {} has no headers: the drivers will work after a reboot into one of: {}",
                                     plan.platform.kernels.running, fmt::join(plan.kernels, ", ")));
  }
  if (builds_modules && plan.platform.secure_boot.state == platform::SecureBootState::enabled) {
    plan.notes.push_back("Secure Boot is on: the DKMS modules must be signed with a key enrolled in MOK");
  }
  if (plan.platform.os) {
    auto family = platform::package_family(*plan.platform.os);
    plan.package_manager = std::string(to_string(family));
    // After an unattended kernel upgrade the next boot runs a kernel DKMS could not build for.
    if (builds_modules) plan.missing_headers = platform::kernels_missing_headers(plan.platform.kernels, family);
    for (const auto& missing : plan.missing_headers) {
      plan.notes.push_back(fmt::format(
          "kernel {} is installed without its headers, so the drivers cannot be built for it and a boot into it has no "
          "InfiniBand driver: install {} (install can bring it with the package manager)",
          missing.kernel, missing.package.empty() ? std::string("its headers package") : missing.package));
    }
  }
  if (plan.platform.vm) {
    plan.size_configuration = platform::size_configuration(plan.platform.vm->vm_size);
    if (plan.size_configuration->nvidia_peermem) {
      plan.notes.push_back(fmt::format("{} ({}): Azure's images load nvidia-peermem (GPUDirect RDMA) after openibd where the "
                                       "GPU driver provides that module", plan.platform.vm->vm_size, plan.size_configuration->family_note));
    }
  }
  plan.configuration = planned_configuration(root, options);
  if (node_settings(plan, options).nvidia_peermem) {
    std::error_code error;
    plan.configuration.push_back({install::peermem_dropin, "load nvidia-peermem after openibd (where both are installed)",
                                  std::filesystem::exists(root.path(install::peermem_dropin), error)});
  }

  if (const auto* failure = plan.platform.first_failure()) {
    plan.exit_code = failure->failure_code;
    plan.failure = failure->message;
    plan.failure_hint = failure->hint;
    plan.failure_remedies = failure->remedies;
    return plan;
  }
  if (!chosen.resolution) {
    plan.exit_code = chosen.code;
    plan.failure = chosen.failure;
    plan.failure_hint = chosen.hint;
    plan.failure_remedies = chosen.remedies;
    return plan;
  }
  plan.resolution = chosen.resolution;
  plan.profile = options.profile.value_or(chosen.resolution->release.default_profile());
  if (chosen.resolution->release.url.rfind("http://", 0) == 0) {
    plan.notes.push_back("the driver URL is plain http: only the pinned SHA-256 protects it");
  }
  return plan;
}

void to_json(nlohmann::json& out, const Plan& plan) {
  using Json = nlohmann::json;
  out = Json::object();
  out["platform"] = plan.platform;
  if (plan.resolution) {
    const auto& release = plan.resolution->release;
    out["release"] = {{"kind", std::string(to_string(release.kind))},
                       {"version", release.version},
                       {"label", release.label},
                       {"url", text::redact_url(release.url)},
                       {"file_name", release.file_name()},
                       {"sha256", release.sha256},
                       {"arch", release.arch},
                       {"packages", release.packages},
                       {"size", release.size_bytes ? Json(*release.size_bytes) : Json(nullptr)},
                       {"os", {{"id", release.os_id}, {"version", release.os_version}}},
                       {"origin", release.origin},
                       {"source", release.source},
                       {"rule", plan.resolution->rule}};
  } else {
    out["release"] = nullptr;
  }
  out["package_manager"] = plan.package_manager;
  out["profile"] = plan.profile;
  out["kernels"] = plan.kernels;
  out["notes"] = plan.notes;
  auto headers = Json::array();
  for (const auto& missing : plan.missing_headers) headers.push_back({{"kernel", missing.kernel}, {"package", missing.package}});
  out["kernels_missing_headers"] = headers;
  if (plan.size_configuration) {
    out["size_configuration"] = {{"family", plan.size_configuration->family_note},
                                 {"ipoib", plan.size_configuration->ipoib},
                                 {"enable_rdma", plan.size_configuration->enable_rdma},
                                 {"nvidia_peermem", plan.size_configuration->nvidia_peermem}};
  } else {
    out["size_configuration"] = nullptr;
  }
  auto changes = Json::array();
  for (const auto& change : plan.configuration) {
    changes.push_back({{"target", change.target}, {"change", change.change}, {"present", change.target_present}});
  }
  out["configuration"] = changes;
  out["exit_code"] = to_int(plan.exit_code);
  out["error"] = plan.failure.empty() ? Json(nullptr) : Json({{"message", plan.failure}, {"hint", plan.failure_hint}, {"remedies", plan.failure_remedies}});
}

}  // namespace ibdriver::pipeline
