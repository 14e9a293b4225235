#pragma once
#include <string>
#include <vector>

#include "core/process.hpp"

namespace ibdriver::install {

// The RPM front ends ibdriver drives. dnf, yum and tdnf share one command-line shape; zypper has its own.
enum class RpmFrontEnd { dnf, yum, tdnf, zypper };
std::string_view to_string(RpmFrontEnd tool);

// Everything the command lines depend on, so they can be built (and tested) without running anything.
struct RpmCommandContext {
  RpmFrontEnd tool = RpmFrontEnd::dnf;
  std::string installroot;  // empty for "/": --installroot (dnf, yum, tdnf) or --root (zypper)
  std::string releasever;   // with an installroot: its rpmdb cannot tell dnf which release it is
  std::string reposdir;     // with an installroot: the root's repo folder as the host sees it
  std::string repository = "ibdriver";
};

// Refreshes the metadata of these repositories and of no other (an offline machine never asks the
// network for the distro's repositories here).
std::vector<std::string> refresh_command(const RpmCommandContext& context, const std::vector<std::string>& repositories);

// Installs packages (names, or paths of local .rpm files) non-interactively. Every configured
// repository stays enabled: the bundle's packages need distro packages (dkms, perl, pciutils...).
// The bundle's repository has the highest priority, and a distro repository that cannot be reached
// (an offline machine) is skipped rather than fatal, so dependencies already present suffice.
std::vector<std::string> install_command(const RpmCommandContext& context, const std::vector<std::string>& packages);

// The same transaction as install_command, only resolved and printed: dnf/yum/tdnf `--assumeno`,
// zypper `--dry-run` (what `would_replace` reads).
std::vector<std::string> dry_run_install_command(const RpmCommandContext& context, const std::vector<std::string>& packages);
// Whether that dry run resolved: zypper exits 0 (or a success code); dnf, yum and tdnf answer their
// own --assumeno ("Operation aborted.", yum's "Exiting on user command") only after showing a resolved
// transaction, or exit 0 with nothing to do. A dependency problem ("nothing provides kernel(...)") is neither.
bool dry_run_resolved(RpmFrontEnd tool, const ProcessResult& result);

// The names a dry run's transaction upgrades or downgrades in place, from its output: dnf/yum/tdnf's
// table sections "Upgrading:", "Updating:", "Downgrading:" (first column of each row, until the next
// heading), zypper's "The following N packages are going to be upgraded:" / "downgraded:" lists.
std::vector<std::string> replaced_in_transaction(RpmFrontEnd tool, std::string_view output);
// Likewise the names it newly installs: "Installing:", "Installing dependencies:", "Installing weak
// dependencies:"; zypper's "going to be installed:".
std::vector<std::string> installed_in_transaction(RpmFrontEnd tool, std::string_view output);

// dnf's `download --destdir DIR NAME-VERSION-RELEASE.ARCH` (dnf-plugins-core): a package file from
// the repositories, installed nowhere.
std::vector<std::string> download_command(const RpmCommandContext& context, const std::string& destination, const std::string& package);

// Puts older versions back (local .rpm files or NAME-VERSION-RELEASE): dnf/yum/tdnf `downgrade`,
// zypper `install --oldpackage`.
std::vector<std::string> downgrade_command(const RpmCommandContext& context, const std::vector<std::string>& packages);

// Removes packages without looking at any repository (no network) and without removing anything
// else the packages did not bring in.
std::vector<std::string> remove_command(const RpmCommandContext& context, const std::vector<std::string>& packages);

// Drops the cached metadata of the bundle's repository (before its .repo file goes).
std::vector<std::string> clean_command(const RpmCommandContext& context);

// `rpm` itself, for queries: `rpm [--root R] ARGS...`.
std::vector<std::string> rpm_command(const RpmCommandContext& context, const std::vector<std::string>& arguments);

// The .repo file text for the bundle's repository (INI; dnf/yum/tdnf read /etc/yum.repos.d, zypper
// /etc/zypp/repos.d). gpgcheck is off because the bundle's SHA-256 was verified; priority 1 makes its
// packages win over the distro's packages of the same name (rdma-core, libibverbs...).
std::string repository_file_text(const RpmCommandContext& context, const std::string& base_directory,
                                 const std::string& description);

// The repository ids ([section] names) a .repo file defines.
std::vector<std::string> repository_ids(const std::string& repo_file_text);

// `repo_file_text` with `names` added to section [id]'s excludepkgs= (the line made after the section
// header when the section has none; a name already listed is not repeated). Unchanged when the file
// has no such section.
std::string with_excluded_packages(const std::string& repo_file_text, const std::string& id, const std::vector<std::string>& names);

// Whether a repository id is a distribution's base OS repository: AlmaLinux/Rocky "baseos", RHEL
// "rhel-9-for-x86_64-baseos-rpms".
bool is_baseos_repository(const std::string& id);

// dnf repoquery over the given repositories only, printing package names.
std::vector<std::string> repoquery_names_command(const RpmCommandContext& context, const std::vector<std::string>& repositories,
                                                 const std::vector<std::string>& packages);

// The tool's own error lines ("Error: ...", "Problem: ...", "No provider of ...") from its output,
// else its last lines.
std::string rpm_tool_errors(const ProcessResult& result);

// Exit statuses that mean the transaction was carried out (zypper's 100-range notes, e.g. 106: a
// repository could not be refreshed and was skipped; 107: a package's scriptlet failed).
bool transaction_succeeded(RpmFrontEnd tool, const ProcessResult& result);

}  // namespace ibdriver::install
