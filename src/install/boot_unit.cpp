#include "install/boot_unit.hpp"

#include <sstream>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "core/files.hpp"
#include "core/log.hpp"
#include "core/process.hpp"
#include "core/text.hpp"
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

bool inside_agent_folder(const fs::path& seen) {
  return seen.string().rfind(agent_folder, 0) == 0;
}

// `running` as the root sees it (the root is usually "/", where they are the same).
fs::path as_seen(const SystemRoot& root, const fs::path& running) {
  if (root.is_host_root()) return running;
  auto relative = running.lexically_relative(root.path("/"));
  if (relative.empty() || *relative.begin() == "..") return running;
  return fs::path("/") / relative;
}

// Copies `from` to the root's `to` through a temporary file and a rename: the boot unit never sees half a
// binary. Returns false when `to` already has the same bytes.
bool copy_atomically(const fs::path& from, const SystemRoot& root, const std::string& to, fs::perms mode) {
  auto target = root.path(to);
  auto wanted = read_file(from, 512U << 20U);
  if (read_file_if_exists(target, 512U << 20U) == wanted) return false;
  write_file_atomically(target, wanted, static_cast<unsigned>(mode));
  return true;
}

// The kept copy: its folders, then the file, each recorded before it is made (uninstall removes them in reverse).
void keep_copy(const SystemRoot& root, const fs::path& running, const std::function<void(const ConfigChange&)>& record) {
  create_folders(root, fs::path(kept_binary).parent_path().string(), record);
  std::error_code error;
  if (!fs::exists(root.path(kept_binary), error)) record({kept_binary, "created", std::nullopt});
  copy_atomically(running, root, kept_binary, fs::perms(0755));
  log::info(fmt::format("kept a copy of {} at {} for the boot-time repair (the extension's folder goes with the extension)",
                        running.string(), kept_binary));
}

}  // namespace

std::string boot_unit_content(std::string_view binary) {
  return fmt::format(
      "# Installed by the ibdriver package (or written by `ibdriver install` when the binary was copied).\n"
      "# At boot, before openibd and the network: when the running kernel lacks the InfiniBand modules\n"
      "# ibdriver installed (an updated kernel, removed files), DKMS builds them and they are loaded. The\n"
      "# boot waits at most 5 minutes (--ready-after): a longer build goes on behind it, so the node is never\n"
      "# held without its network for long.\n"
      "[Unit]\n"
      "Description=Rebuild and load the InfiniBand driver modules for the running kernel (ibdriver)\n"
      "Documentation=man:ibdriver(8)\n"
      "ConditionPathExists=/var/lib/ibdriver/state.json\n"
      "After=local-fs.target systemd-modules-load.service\n"
      "Before=openibd.service rdma-hw.target network-pre.target\n"
      "Wants=network-pre.target\n"
      "\n"
      "[Service]\n"
      "Type=notify\n"
      "NotifyAccess=main\n"
      "RemainAfterExit=yes\n"
      "ExecStart={} repair --quiet --ready-after 300\n"
      "TimeoutStartSec=10min\n"
      "\n"
      "[Install]\n"
      "WantedBy=multi-user.target\n",
      binary);
}

std::optional<fs::path> running_program(const SystemRoot& root) {
  if (!root.is_host_root()) return std::nullopt;
  std::error_code error;
  auto self = fs::read_symlink("/proc/self/exe", error);
  if (error || !self.is_absolute()) return std::nullopt;
  return self;
}

void install_boot_unit(const SystemRoot& root, const std::function<void(const ConfigChange&)>& record, std::optional<fs::path> running) {
  if (!running) running = running_program(root);
  auto unit = packaged_unit(root);
  bool wrote = false;
  if (!unit) {
    unit = own_unit;
    std::error_code missing;
    std::string program = packaged_binary;
    if (!fs::exists(root.path(packaged_binary), missing) && running) {
      if (inside_agent_folder(as_seen(root, *running))) {
        keep_copy(root, *running, record);
        program = kept_binary;
      } else {
        program = as_seen(root, *running).string();
      }
    }
    auto file = root.path(own_unit);
    auto current = read_file_if_exists(file, max_unit_bytes);
    auto wanted = boot_unit_content(program);
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

bool refresh_boot_program(const SystemRoot& root, const std::function<void(const ConfigChange&)>& record, std::optional<fs::path> running) {
  if (!running) running = running_program(root);
  if (!running || packaged_unit(root) || !inside_agent_folder(as_seen(root, *running))) return false;
  auto program = boot_unit_program(root);
  if (!program || (*program != kept_binary && !inside_agent_folder(*program))) return false;  // not ours to move
  install_boot_unit(root, record, running);
  return true;
}

std::optional<std::string> unit_exec_program(std::string_view unit) {
  std::istringstream lines{std::string(unit)};
  for (std::string line; std::getline(lines, line);) {
    auto text = std::string(text::trim(line));
    if (text.rfind("ExecStart=", 0) != 0) continue;
    auto value = text.substr(10);
    auto begin = value.find_first_not_of("-@:+! \t");
    if (begin == std::string::npos) return std::nullopt;
    auto end = value.find_first_of(" \t", begin);
    return value.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
  }
  return std::nullopt;
}

std::optional<std::string> boot_unit_program(const SystemRoot& root) {
  for (const auto& unit : {packaged_unit(root), std::optional<std::string>(own_unit)}) {
    if (!unit) continue;
    if (auto text = read_file_if_exists(root.path(*unit), max_unit_bytes)) return unit_exec_program(*text);
  }
  return std::nullopt;
}

bool boot_unit_installed(const SystemRoot& root) {
  std::error_code error;
  if (!packaged_unit(root) && !fs::exists(root.path(own_unit), error)) return false;
  if (!fs::exists(fs::symlink_status(root.path(wants_link), error))) return false;
  auto program = boot_unit_program(root);
  if (!program || !fs::path(*program).is_absolute()) return false;
  auto file = root.path(*program);
  auto status = fs::status(file, error);
  if (error || !fs::is_regular_file(status) || (status.permissions() & fs::perms::owner_exec) == fs::perms::none) return false;
  if (!root.is_host_root()) return true;
  ProcessOptions options;
  options.time_limit = std::chrono::seconds(10);
  return run_process({*program, "--version"}, options).succeeded();
}

}  // namespace ibdriver::install
