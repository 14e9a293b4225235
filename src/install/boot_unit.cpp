#include "install/boot_unit.hpp"

#include <system_error>

#include <fmt/format.h>

#include "core/files.hpp"
#include "core/log.hpp"
#include "core/process.hpp"
#include "install/configure.hpp"

namespace ibdriver::install {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_unit_bytes = 1024 * 1024;
constexpr const char* own_unit = "/etc/systemd/system/ibdriver-boot.service";
constexpr const char* wants_link = "/etc/systemd/system/multi-user.target.wants/ibdriver-boot.service";

std::optional<std::string> packaged_unit(const SystemRoot& root) {
  std::error_code error;
  for (const char* path : {"/usr/lib/systemd/system/ibdriver-boot.service", "/lib/systemd/system/ibdriver-boot.service"}) {
    if (fs::exists(root.path(path), error)) return std::string(path);
  }
  return std::nullopt;
}

bool systemd_running(const SystemRoot& root) {
  std::error_code error;
  return root.is_host_root() && fs::exists("/run/systemd/system", error);
}

// The binary the unit we write runs: this one on the real machine (it may live in /usr/local/bin or
// /opt), the packaged path for a root that is not the one we run on.
std::string this_binary(const SystemRoot& root) {
  std::error_code error;
  if (root.is_host_root()) {
    auto self = fs::read_symlink("/proc/self/exe", error);
    if (!error && self.is_absolute()) return self.string();
  }
  return "/usr/sbin/ibdriver";
}

}  // namespace

std::string boot_unit_content(std::string_view binary) {
  return fmt::format(
      "# Installed by the ibdriver package (or written by `ibdriver install` when the binary was copied).\n"
      "# At boot, before openibd and the network: when the running kernel lacks the InfiniBand modules\n"
      "# ibdriver installed (an updated kernel, removed files), DKMS builds them and they are loaded.\n"
      "[Unit]\n"
      "Description=Rebuild and load the InfiniBand driver modules for the running kernel (ibdriver)\n"
      "Documentation=man:ibdriver(8)\n"
      "ConditionPathExists=/var/lib/ibdriver/state.json\n"
      "After=local-fs.target systemd-modules-load.service\n"
      "Before=openibd.service rdma-hw.target network-pre.target\n"
      "Wants=network-pre.target\n"
      "\n"
      "[Service]\n"
      "Type=oneshot\n"
      "RemainAfterExit=yes\n"
      "ExecStart={} repair --quiet\n"
      "TimeoutStartSec=45min\n"
      "\n"
      "[Install]\n"
      "WantedBy=multi-user.target\n",
      binary);
}

void install_boot_unit(const SystemRoot& root, const std::function<void(const ConfigChange&)>& record) {
  auto unit = packaged_unit(root);
  bool wrote = false;
  if (!unit) {
    unit = own_unit;
    auto file = root.path(own_unit);
    auto current = read_file_if_exists(file, max_unit_bytes);
    auto wanted = boot_unit_content(this_binary(root));
    if (current != wanted) {
      create_parent_folders(root, own_unit, record);
      record({own_unit, current ? "edited" : "created", current});
      write_file_atomically(file, wanted, 0644);
      wrote = true;
      log::info(fmt::format("wrote {}: the boot-time repair for kernels installed later", own_unit));
    }
  }
  std::error_code error;
  auto link = root.path(wants_link);
  if (fs::exists(fs::symlink_status(link, error))) return;  // enabled (by us earlier, the package, or the admin)
  if (systemd_running(root)) {
    if (wrote) run_process({"systemctl", "daemon-reload"});
    record({boot_unit_name, "service-enabled", std::nullopt});
    auto result = run_process({"systemctl", "enable", boot_unit_name});
    if (!result.succeeded()) log::warning(fmt::format("systemctl enable {} {}: {}", boot_unit_name, result.describe_end(), result.tail(3)));
    return;
  }
  // No systemd running (a chroot, an image being baked): the link `systemctl enable` would make.
  create_parent_folders(root, wants_link, record);
  record({wants_link, "created", std::nullopt});
  fs::create_symlink(*unit, link, error);
  if (error) log::warning(fmt::format("cannot link {}: {}", wants_link, error.message()));
  else log::info(fmt::format("enabled {} (link in multi-user.target.wants)", boot_unit_name));
}

bool boot_unit_installed(const SystemRoot& root) {
  std::error_code error;
  if (!packaged_unit(root) && !fs::exists(root.path(own_unit), error)) return false;
  return fs::exists(fs::symlink_status(root.path(wants_link), error));
}

}  // namespace ibdriver::install
