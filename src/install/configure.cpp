#include "install/configure.hpp"

#include <sys/stat.h>

#include <system_error>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/process.hpp"
#include "core/text.hpp"

namespace ibdriver::install {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_config_bytes = 4 * 1024 * 1024;
constexpr const char* modules_file = "/etc/modules-load.d/ibdriver.conf";
constexpr const char* openibd_dropin = "/etc/systemd/system/openibd.service.d/ibdriver.conf";
// As Azure's HPC images do: openibd waits for udev to settle (the VF may appear late) and restarts on failure.
constexpr const char* openibd_dropin_content =
    "# Written by ibdriver. `ibdriver uninstall` removes it.\n[Unit]\nAfter=systemd-udev-settle.service\n\n"
    "[Service]\nRestart=on-failure\n";

// Azure/azhpc-images (components/setup_sku_customizations.sh, since c709a9b2) writes
// openibd.service.d/10-nvidia-peermem.conf with `ExecStartPost=-/bin/sh -c 'if modinfo nvidia_peermem;
// then modprobe nvidia-peermem && test -d /sys/module/nvidia_peermem; fi'`. The same without a shell:
// "-" ignores a failure (no GPU driver yet) and -q keeps modprobe silent when the module does not exist;
// a module that exists but fails to load is still logged in the unit's journal.
constexpr const char* peermem_dropin_content =
    "# Written by ibdriver for the NVIDIA ND GPU sizes. `ibdriver uninstall` removes it.\n"
    "# After openibd has loaded the OFED stack, load nvidia-peermem (GPUDirect RDMA) where the GPU driver\n"
    "# provides it, as Azure's HPC images do.\n"
    "[Service]\nExecStartPost=-/sbin/modprobe -q nvidia-peermem\n";

std::string modules_content(const NodeSettings& settings) {
  std::string content = "# Written by ibdriver: InfiniBand modules loaded at boot. `ibdriver uninstall` removes it.\n";
  if (settings.ipoib) content += "ib_ipoib\n";
  content += "ib_umad\nrdma_ucm\n";
  return content;
}

struct KeyEdit {
  const char* file;
  const char* key;
  std::string value;
};

std::vector<KeyEdit> key_edits(const NodeSettings& settings) {
  // waagent brings ib0 up with the host's address only with OS.EnableRDMA=y (needs waagent >= 2.4.0.2).
  return {{"/etc/waagent.conf", "OS.EnableRDMA", settings.ipoib ? "y" : "n"},
          {"/etc/infiniband/openib.conf", "IPOIB_LOAD", settings.ipoib ? "yes" : "no"}};
}

unsigned file_mode(const fs::path& file) {
  struct stat status {};
  return ::stat(file.c_str(), &status) == 0 ? (status.st_mode & 07777) : 0644;
}

bool systemd_running(const SystemRoot& root) {
  std::error_code error;
  return root.is_host_root() && fs::exists("/run/systemd/system", error);
}

bool openibd_present(const SystemRoot& root) {
  std::error_code error;
  return fs::exists(root.path("/lib/systemd/system/openibd.service"), error) ||
         fs::exists(root.path("/usr/lib/systemd/system/openibd.service"), error);
}

// The peermem drop-in present when wanted (recorded first), absent when not (uninstall's record of
// its creation stays: removing an absent file is nothing).
void configure_peermem(const SystemRoot& root, bool wanted, const std::function<void(const ConfigChange&)>& record) {
  auto dropin = root.path(peermem_dropin);
  auto current = read_file_if_exists(dropin, max_config_bytes);
  if (!wanted) {
    if (!current) return;
    record({peermem_dropin, "edited", current});
    std::error_code error;
    fs::remove(dropin, error);
    if (error) throw FileError(ExitCode::operation_failed, "cannot remove", dropin, error.value());
    log::info(fmt::format("removed {}: this size does not load nvidia-peermem", peermem_dropin));
    return;
  }
  if (current == std::string(peermem_dropin_content)) return;
  create_parent_folders(root, peermem_dropin, record);
  record({peermem_dropin, current ? "edited" : "created", current});
  write_file_atomically(dropin, peermem_dropin_content, 0644);
  log::info(fmt::format("wrote {}: nvidia-peermem loads after openibd where the GPU driver provides it", peermem_dropin));
}

}  // namespace

std::string set_key(std::string_view content, std::string_view key, std::string_view value) {
  std::string result;
  bool replaced = false;
  auto lines = text::split(content, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();  // the final newline
  for (auto line : lines) {
    auto trimmed = text::trim(line);
    auto equals = trimmed.find('=');
    if (!replaced && !trimmed.empty() && trimmed.front() != '#' && equals != std::string_view::npos &&
        text::trim(trimmed.substr(0, equals)) == key) {
      result += fmt::format("{}={}\n", key, value);
      replaced = true;
    } else {
      result += std::string(line) + "\n";
    }
  }
  if (!replaced) result += fmt::format("{}={}\n", key, value);
  return result;
}

void configure_node(const SystemRoot& root, const NodeSettings& settings,
                    const std::function<void(const ConfigChange&)>& record) {
  auto modules = root.path(modules_file);
  auto wanted = modules_content(settings);
  auto existing = read_file_if_exists(modules, max_config_bytes);
  if (existing != wanted) {
    create_parent_folders(root, modules_file, record);
    record({modules_file, existing ? "edited" : "created", existing});
    write_file_atomically(modules, wanted, 0644);
    log::info(fmt::format("wrote {}", modules_file));
  }
  for (const auto& edit : key_edits(settings)) {
    auto file = root.path(edit.file);
    auto content = read_file_if_exists(file, max_config_bytes);
    if (!content) {
      log::debug(fmt::format("{} is absent: nothing to set there", edit.file));
      continue;
    }
    auto updated = set_key(*content, edit.key, edit.value);
    if (updated == *content) continue;
    record({edit.file, "edited", *content});
    write_file_atomically(file, updated, file_mode(file));
    log::info(fmt::format("set {}={} in {}", edit.key, edit.value, edit.file));
  }
  if (openibd_present(root)) {
    auto dropin = root.path(openibd_dropin);
    auto current = read_file_if_exists(dropin, max_config_bytes);
    if (current != std::string(openibd_dropin_content)) {
      create_parent_folders(root, openibd_dropin, record);
      record({openibd_dropin, current ? "edited" : "created", current});
      write_file_atomically(dropin, openibd_dropin_content, 0644);
      log::info(fmt::format("wrote {}", openibd_dropin));
    }
    configure_peermem(root, settings.nvidia_peermem, record);
    if (systemd_running(root) && run_process({"systemctl", "is-enabled", "--quiet", "openibd.service"}).exit_status != 0) {
      record({"openibd.service", "service-enabled", std::nullopt});
      auto result = run_process({"systemctl", "enable", "openibd.service"});
      if (!result.succeeded()) {
        log::warning(fmt::format("systemctl enable openibd {}: {}", result.describe_end(), result.tail(3)));
      }
    } else if (!systemd_running(root)) {
      log::info("systemd is not running here: openibd.service is enabled by its package or at first boot");
    }
  }
}

bool node_configured(const SystemRoot& root, const NodeSettings& settings) {
  if (read_file_if_exists(root.path(modules_file), max_config_bytes) != modules_content(settings)) return false;
  if (openibd_present(root) &&
      read_file_if_exists(root.path(openibd_dropin), max_config_bytes) != std::string(openibd_dropin_content)) {
    return false;
  }
  if (openibd_present(root)) {
    auto peermem = read_file_if_exists(root.path(peermem_dropin), max_config_bytes);
    if (settings.nvidia_peermem ? peermem != std::string(peermem_dropin_content) : peermem.has_value()) return false;
  }
  for (const auto& edit : key_edits(settings)) {
    auto content = read_file_if_exists(root.path(edit.file), max_config_bytes);
    if (content && set_key(*content, edit.key, edit.value) != *content) return false;
  }
  return true;
}

void create_parent_folders(const SystemRoot& root, const std::string& file, const std::function<void(const ConfigChange&)>& record) {
  create_folders(root, fs::path(file).parent_path().string(), record);
}

void create_folders(const SystemRoot& root, const std::string& top, const std::function<void(const ConfigChange&)>& record) {
  std::vector<fs::path> missing;
  std::error_code error;
  for (auto folder = fs::path(top); folder.has_relative_path(); folder = folder.parent_path()) {
    if (fs::exists(root.path(folder.string()), error)) break;
    missing.push_back(folder);
  }
  for (auto folder = missing.rbegin(); folder != missing.rend(); ++folder) {
    record({folder->string(), "folder-created", std::nullopt});
    fs::create_directory(root.path(folder->string()), error);
  }
}

void restore_configuration(const SystemRoot& root, const std::vector<ConfigChange>& changes) {
  for (auto change = changes.rbegin(); change != changes.rend(); ++change) {
    if (change->action == "service-enabled") {
      if (systemd_running(root)) run_process({"systemctl", "disable", change->file});
      continue;
    }
    auto file = root.path(change->file);
    std::error_code error;
    if (change->action == "folder-created") {
      if (fs::is_empty(file, error)) fs::remove(file, error);
      continue;
    }
    if (change->action == "created") {
      fs::remove(file, error);
    } else if (change->original) {
      write_file_atomically(file, *change->original, file_mode(file));
    }
    log::info(fmt::format("restored {}", change->file));
  }
}

}  // namespace ibdriver::install
