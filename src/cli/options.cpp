#include "cli/options.hpp"

namespace ibdriver::cli {

SystemRoot GlobalOptions::system_root() const {
  return SystemRoot(root, sysfs_root ? std::optional<std::filesystem::path>(*sysfs_root) : std::nullopt);
}

void add_global_options(CLI::App& app, GlobalOptions& options) {
  app.add_option("--root", options.root, "System root to inspect and change (default /)")
      ->envname("IBDRIVER_ROOT")
      ->check(CLI::ExistingDirectory);
  app.add_option("--sysfs-root", options.sysfs_root, "Where sysfs is probed (default <root>/sys)")
      ->envname("IBDRIVER_SYSFS_ROOT")
      ->check(CLI::ExistingDirectory);
  app.add_option("--log-file", options.log_file, "Log file (default <root>/var/log/ibdriver.log)");
  app.add_flag("-v,--verbose", options.verbose, "Show debug lines on stderr");
  app.add_flag("-q,--quiet", options.quiet, "Show only errors on stderr");
}

void add_plan_options(CLI::App& command, pipeline::PlanOptions& options, OptionSet set) {
  auto& detect = options.detect;
  command.add_flag("--skip-vmbus-check", detect.skip_vmbus_check, "Do not fail without Hyper-V/VMBus (exit 10)");
  command.add_flag("--skip-device-check", detect.skip_device_check, "Do not fail without an InfiniBand device (exit 11)");
  command.add_flag("--skip-os-check", detect.skip_os_check, "Do not fail on an unsupported OS (exit 12)");
  command.add_flag("--skip-vm-size-check", detect.skip_vm_size_check,
                   "Do not query IMDS nor fail on the VM size (exit 13)");
  command.add_option("--imds-url", detect.imds.url, "Instance metadata URL (tests)")->envname("IBDRIVER_IMDS_URL");
  command.add_option("--catalog", options.catalog_overlay, "Extra catalog rows (JSON, shape of distros/catalog.json)")
      ->envname("IBDRIVER_CATALOG");
  command.add_option("--arch", options.arch,
                     "Choose the driver for this machine architecture (x86_64 or aarch64; default: this machine's, uname -m)")
      ->envname("IBDRIVER_ARCH");
  if (set == OptionSet::detection) return;
  command.add_option("--driver-version", options.driver_version, "Pin a catalog release (e.g. 24.01-0.3.3.1 or 24.01)");
  command.add_option("--driver-url,--url", options.driver_url, "Use this driver bundle instead of the catalog's (needs --sha256)");
  command.add_option("--sha256", options.sha256, "SHA-256 of the bundle at --driver-url (or of --bundle)");
  if (set == OptionSet::driver_choice) return;
  command.add_option("--profile", options.profile, "Package set to install (default: mlnx-ofed-hpc or doca-ofed)");
  command.add_option("--kernel", options.kernels, "Build for this kernel (repeatable; default: every kernel with headers)");
  // CLI11 reads on/off, yes/no, true/false for a bool.
  command.add_option("--ipoib", options.ipoib, "Configure IPoIB: on (default) or off");
}

}  // namespace ibdriver::cli
