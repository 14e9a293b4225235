#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/system_root.hpp"
#include "install/journal.hpp"

namespace ibdriver::install {

struct NodeSettings {
  bool ipoib = true;
  // Load nvidia-peermem (GPUDirect RDMA) after openibd when the module exists: on the NVIDIA ND GPU
  // sizes only (platform::SizeConfiguration::nvidia_peermem, from Azure/azhpc-images).
  bool nvidia_peermem = false;
};

// The openibd drop-in that loads nvidia-peermem (NodeSettings::nvidia_peermem), a system path.
constexpr const char* peermem_dropin = "/etc/systemd/system/openibd.service.d/ibdriver-nvidia-peermem.conf";

// Sets KEY=VALUE in a KEY=VALUE file in place: the first active assignment of KEY is replaced, every
// other line (comments included) is kept byte for byte; appended when KEY is absent.
std::string set_key(std::string_view content, std::string_view key, std::string_view value);

// The configure stage: modules to load at boot (/etc/modules-load.d/ibdriver.conf), OS.EnableRDMA in
// /etc/waagent.conf, IPOIB_LOAD in /etc/infiniband/openib.conf when present, and where the driver
// installed openibd: a drop-in (After=systemd-udev-settle, Restart=on-failure), enabled where systemd
// runs, and with `nvidia_peermem` a second drop-in (peermem_dropin) whose `ExecStartPost=-/sbin/modprobe
// -q nvidia-peermem` loads the module once openibd has started, as Azure's images do (without it the
// drop-in is removed, e.g. after a resize). Each change is handed to `record` (with what it replaces)
// before the file is written, so a run killed in between still knows the original; files already right
// are left alone (a re-run changes nothing).
void configure_node(const SystemRoot& root, const NodeSettings& settings,
                    const std::function<void(const ConfigChange&)>& record);

// Whether configure_node would change nothing.
bool node_configured(const SystemRoot& root, const NodeSettings& settings);

// Creates the folders above `file` (a system path) that are missing, handing each to `record` first,
// outermost first, as a "folder-created" change: uninstall removes them again once they are empty
// (/etc/modules-load.d and /etc/systemd/system/<unit>.d are absent on minimal images).
void create_parent_folders(const SystemRoot& root, const std::string& file, const std::function<void(const ConfigChange&)>& record);
// The same for `folder` itself and the folders above it.
void create_folders(const SystemRoot& root, const std::string& folder, const std::function<void(const ConfigChange&)>& record);

// Puts back what the changes replaced (uninstall), newest first; a folder it created is removed only
// when nothing else was put in it.
void restore_configuration(const SystemRoot& root, const std::vector<ConfigChange>& changes);

}  // namespace ibdriver::install
