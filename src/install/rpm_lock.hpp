#pragma once
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/system_root.hpp"

namespace ibdriver::install {

// Another process that holds a package manager's lock.
struct LockHolder {
  pid_t pid = 0;
  std::string command;  // its /proc/<pid>/comm, when readable
  std::string lock;     // the lock file (system path)
};

// The locks an RPM front end takes: rpm's transaction lock (<dbpath>/.rpm.lock, an fcntl lock that
// rpm itself waits for without end) and the front end's own pid files (dnf's rpmdb_lock.pid,
// yum.pid, zypp.pid, tdnf's instance lock).
struct RpmLocks {
  std::vector<std::string> fcntl_locks;  // system paths
  std::vector<std::string> pid_files;    // system paths; a pid that no longer runs is stale
};

// Who holds one of the locks now, if anyone (this process never counts).
std::optional<LockHolder> rpm_lock_holder(const SystemRoot& root, const RpmLocks& locks);

// Waits while one of the locks is held, saying once who holds it; Error (operation_failed) naming
// the holder when it is still held after `timeout`.
void wait_for_rpm_locks(const SystemRoot& root, const RpmLocks& locks, std::chrono::seconds timeout,
                        const std::string& tool);

}  // namespace ibdriver::install
