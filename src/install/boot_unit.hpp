#pragma once
#include <functional>
#include <string>
#include <string_view>

#include "core/system_root.hpp"
#include "install/journal.hpp"

namespace ibdriver::install {

inline constexpr const char* boot_unit_name = "ibdriver-boot.service";

// The unit packaging/systemd/ibdriver-boot.service ships (ExecStart=<binary> repair --quiet).
std::string boot_unit_content(std::string_view binary = "/usr/sbin/ibdriver");

// Makes sure the boot-time repair runs at every boot: the packaged unit (/usr/lib or /lib/systemd/system)
// is used when present; otherwise (a copied binary, the zip) the unit is written to
// /etc/systemd/system with ExecStart naming this binary. Enabled with `systemctl enable` where systemd
// runs, else by the multi-user.target.wants link systemctl would make. Every change goes to `record`
// first (uninstall removes the unit it wrote and disables what it enabled).
void install_boot_unit(const SystemRoot& root, const std::function<void(const ConfigChange&)>& record);

// Whether the unit exists and is enabled (the wants link), without running systemctl.
bool boot_unit_installed(const SystemRoot& root);

}  // namespace ibdriver::install
