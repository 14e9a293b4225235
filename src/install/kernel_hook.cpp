#include "install/kernel_hook.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "core/files.hpp"

namespace ibdriver::install {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_hook_bytes = 1 << 16;

struct HookPlace {
  const char* folder;
  const char* name;
};
constexpr HookPlace places[] = {
    {"/etc/kernel/postinst.d", "01-ibdriver-dkms"},
    {"/etc/kernel/header_postinst.d", "01-ibdriver-dkms"},
    {"/etc/kernel/install.d", "39-ibdriver-dkms.install"},
};

bool safe_module_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '+' ||
           c == '-';
  });
}

// The script; {modules} is filled in. POSIX sh; shellcheck-clean (tests/install/test_kernel_hook.cpp).
constexpr const char* script_template = R"SH(#!/bin/sh
# Installed by ibdriver (removed by `ibdriver uninstall`; `ibdriver repair` writes it again).
# Builds the driver bundle's DKMS modules for a newly installed kernel in dependency order, before
# DKMS's own hook: DKMS's autoinstall orders by name and declared BUILD_DEPENDS only, and NVIDIA's ULP
# modules declare none, so it would build them before the core they link against, and fail.
# Called as /etc/kernel/{{postinst.d,header_postinst.d}}/NAME KERNEL [IMAGE], or by kernel-install as
# /etc/kernel/install.d/NAME.install add|remove KERNEL ENTRY_DIR IMAGE.
modules="{modules}"
case "$1" in
  add) kernel=$2 ;;
  remove) exit 0 ;;
  *) kernel=$1 ;;
esac
[ -n "$kernel" ] || exit 0
command -v dkms >/dev/null 2>&1 || exit 0
# Without headers nothing can be built yet; linux-headers' postinst runs this again.
[ -e "/lib/modules/$kernel/build/include" ] || exit 0
for module in $modules; do
  # The newest version DKMS has registered (its source still there), as autoinstall picks it.
  version=$(for dir in /var/lib/dkms/"$module"/*; do
              [ -e "$dir/source/dkms.conf" ] && basename "$dir"
            done | sort -V | tail -n 1)
  [ -n "$version" ] || continue
  if dkms status -m "$module" -v "$version" -k "$kernel" 2>/dev/null | grep -q ': installed'; then
    continue
  fi
  echo "ibdriver: building $module/$version for $kernel (before DKMS's autoinstall, in dependency order)"
  if ! dkms build -m "$module" -v "$version" -k "$kernel" || ! dkms install -m "$module" -v "$version" -k "$kernel"; then
    echo "ibdriver: $module/$version did not build for $kernel; DKMS's autoinstall will report it" >&2
  fi
done
exit 0
)SH";

}  // namespace

std::string kernel_hook_script(const std::vector<std::string>& modules_in_order) {
  for (const auto& module : modules_in_order) {
    if (!safe_module_name(module)) {
      throw Error(ExitCode::operation_failed, fmt::format("the DKMS module name \"{}\" cannot go into ibdriver's kernel hook", module),
                  "the bundle's DKMS package is damaged or not one NVIDIA built: use the vendor's bundle as downloaded");
    }
  }
  return fmt::format(script_template, fmt::arg("modules", fmt::join(modules_in_order, " ")));
}

std::vector<std::string> kernel_hook_files(const SystemRoot& root) {
  std::vector<std::string> files;
  for (const auto& place : places) {
    std::error_code error;
    if (fs::is_directory(root.path(place.folder), error)) files.push_back(fmt::format("{}/{}", place.folder, place.name));
  }
  return files;
}

void install_kernel_hook(const SystemRoot& root, const std::vector<std::string>& modules_in_order,
                         const std::function<void(const ConfigChange&)>& record) {
  auto script = kernel_hook_script(modules_in_order);
  for (const auto& file : kernel_hook_files(root)) {
    auto current = read_file_if_exists(root.path(file), max_hook_bytes);
    if (current == script) continue;
    record(current ? ConfigChange{file, "edited", current} : ConfigChange{file, "created", std::nullopt});
    write_file_atomically(root.path(file), script, 0755);
  }
}

bool kernel_hook_installed(const SystemRoot& root, const std::vector<std::string>& modules_in_order) {
  auto script = kernel_hook_script(modules_in_order);
  auto files = kernel_hook_files(root);
  return !files.empty() && std::all_of(files.begin(), files.end(), [&](const std::string& file) {
    return read_file_if_exists(root.path(file), max_hook_bytes) == script;
  });
}

}  // namespace ibdriver::install
