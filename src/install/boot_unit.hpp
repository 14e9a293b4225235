#pragma once
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/system_root.hpp"
#include "install/journal.hpp"

namespace ibdriver::install {

inline constexpr const char* boot_unit_name = "ibdriver-boot.service";

// The packaged binary, and the journal-owned copy the boot unit runs when there is none and ibdriver runs
// from the Azure extension's folder (/var/lib/waagent/<Publisher>.<Type>-<Version>/, which the guest
// agent deletes on uninstall and on every update). The zip's binary needs nothing but glibc, so the
// copy is the one file (a /var/lib/ibdriver/lib an earlier version kept stays in its journal).
inline constexpr const char* packaged_binary = "/usr/sbin/ibdriver";
inline constexpr const char* kept_binary = "/var/lib/ibdriver/bin/ibdriver";
inline constexpr const char* agent_folder = "/var/lib/waagent/";

// The unit packaging/systemd/ibdriver-boot.service ships (ExecStart=<binary> repair --quiet --ready-after 300).
std::string boot_unit_content(std::string_view binary = packaged_binary);

// This program's file, as a path on the machine running it (/proc/self/exe), when `root` is that
// machine's root; nullopt for another root (tests, image roots).
std::optional<std::filesystem::path> running_program(const SystemRoot& root);

// Makes sure the boot-time repair runs at every boot: the packaged unit (/usr/lib or /lib/systemd/system)
// is used when present; otherwise the unit is written to /etc/systemd/system with ExecStart naming
//   - the packaged /usr/sbin/ibdriver when it exists in `root`;
//   - else `running` when it lives outside the agent's folder (an admin's copy, /usr/local/bin);
//   - else (the extension's binary) kept_binary, a copy of `running` (and of its ../lib) that the journal
//     owns: uninstall removes it with the drivers;
//   - with no `running` (another root) and no packaged binary: /usr/sbin/ibdriver.
// Enabled with `systemctl enable` where systemd runs, else by the multi-user.target.wants link systemctl
// would make. Every change goes to `record` first (uninstall removes the files it wrote and disables what
// it enabled). `running` defaults to running_program(root); tests pass one.
void install_boot_unit(const SystemRoot& root, const std::function<void(const ConfigChange&)>& record,
                       std::optional<std::filesystem::path> running = std::nullopt);

// For an extension update, run by the new version's binary (`running`, default this program) from its
// agent folder: when the unit runs the kept copy, or (written by an earlier version) a binary inside
// the agent's folder, which is about to be deleted, the unit is rewritten to run kept_binary and the copy
// (and its libraries) replaced with `running`'s, atomically; changes go to `record` (the journal).
// Returns false, changing nothing, for a packaged unit or an admin's binary. Throws FileError
// (operation_failed) when the copy cannot be written.
bool refresh_boot_program(const SystemRoot& root, const std::function<void(const ConfigChange&)>& record,
                          std::optional<std::filesystem::path> running = std::nullopt);

// The program of a unit file's first ExecStart= (its first word, without systemd's prefixes -@:+!), as
// systemd.service(5) reads it; nullopt when there is none.
std::optional<std::string> unit_exec_program(std::string_view unit);

// The program the boot unit's ExecStart runs (packaged unit first, then ours); nullopt with no unit.
std::optional<std::string> boot_unit_program(const SystemRoot& root);

// Whether the unit exists, is enabled (the wants link, without running systemctl), and its program
// exists and is executable; on the machine's own root the program must also run (`PROGRAM --version`
// exits 0 within 10 s): a unit naming a deleted extension folder's binary is not installed.
bool boot_unit_installed(const SystemRoot& root);

}  // namespace ibdriver::install
