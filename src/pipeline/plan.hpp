#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "catalog/catalog.hpp"
#include "catalog/resolver.hpp"
#include "core/system_root.hpp"
#include "install/configure.hpp"
#include "platform/package_family.hpp"
#include "platform/platform_report.hpp"

namespace ibdriver::pipeline {

struct PlanOptions {
  platform::DetectOptions detect;
  std::optional<std::filesystem::path> catalog_overlay;  // --catalog
  std::optional<std::string> driver_version;             // --driver-version
  std::optional<std::string> driver_url;                 // --driver-url (with --sha256)
  std::optional<std::string> sha256;
  std::optional<std::string> profile;                    // --profile
  std::vector<std::string> kernels;                      // --kernel; empty: every kernel with headers
  bool ipoib = true;                                     // --ipoib on|off
  // --arch: the machine architecture to choose for (x86_64, aarch64; amd64 and arm64 read as those),
  // instead of the one detected (platform::detect_machine_arch).
  std::optional<std::string> arch;
};

// One thing the configure stage would change.
struct PlannedChange {
  std::string target;  // a file or a service
  std::string change;
  bool target_present = false;  // whether the file/service exists in the root today
};

// detect -> resolve, and what install would do with it. Changes nothing.
struct Plan {
  platform::PlatformReport platform;
  std::optional<catalog::Resolution> resolution;
  std::string package_manager;
  std::string profile;
  std::vector<std::string> kernels;
  // False when the driver's packages carry modules prebuilt for given kernels, so DKMS builds nothing
  // and no headers are needed: the distribution's own packages, and MLNX_OFED tarballs for an RPM
  // family, whose RPMS/ hold kmod-* packages for one kernel (real-bundles.md, "RHEL RPMS/").
  bool builds_modules = true;
  std::vector<std::string> notes;  // warnings a person should read before installing
  // Installed kernels newer than the running one without headers, with the package that brings them
  // (platform::kernels_missing_headers); status and repair name the same packages.
  std::vector<platform::MissingHeaders> missing_headers;
  std::optional<platform::SizeConfiguration> size_configuration;  // when IMDS named the size
  std::vector<PlannedChange> configuration;
  double detect_seconds = 0;   // how long detection took (the platform's checks, IMDS included)
  double resolve_seconds = 0;  // how long the catalog's loading and the release's choice took
  ExitCode exit_code = ExitCode::success;
  std::string failure;  // the message behind a non-zero exit_code
  std::string failure_hint;
  Remedies failure_remedies;
};

// Runs detection, then (unless a check already failed) resolution against the catalog. The catalog
// also decides the os check: an identified OS without a driver release is exit 12. Throws only for
// bad usage (an unreadable --catalog, a malformed --sha256: exit 1).
Plan make_plan(const SystemRoot& root, const PlanOptions& options);

// What the configure stage sets on this node: IPoIB as asked (--ipoib, the "ipoib" setting), and the
// nvidia-peermem drop-in when IMDS named one of the NVIDIA ND GPU sizes (platform::size_configuration).
install::NodeSettings node_settings(const Plan& plan, const PlanOptions& options);

// The platform report with the catalog's verdict folded into its os check (what `detect` prints).
platform::PlatformReport detect(const SystemRoot& root, const PlanOptions& options);

void to_json(nlohmann::json& json, const Plan& plan);

}  // namespace ibdriver::pipeline
