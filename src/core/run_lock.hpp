#pragma once
#include <chrono>
#include <filesystem>

#include "core/unique_fd.hpp"

namespace ibdriver {

// One ibdriver run at a time on a system: an flock on a lock file, waited for (saying who holds it)
// up to a time limit. Released when the owner goes away, or when the process dies.
//
// The children a run starts (apt-get, dpkg, dkms: each in its own process group) outlive a run
// killed with SIGKILL, and go on changing the system. So while a RunLock is held, every child
// process group is listed in the lock file ("child PID STARTTIME COMM" lines, rewritten as they start
// and end), and the next run, once it holds the lock, waits (within the same limit) for those still
// alive, naming them, before it touches anything.
class RunLock {
 public:
  RunLock(const std::filesystem::path& file, std::chrono::seconds wait);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  UniqueFd fd_;
};

// Called by core/process for every child it starts and reaps (no-ops without a RunLock).
void note_child_started(int pid);
void note_child_ended(int pid);

}  // namespace ibdriver
