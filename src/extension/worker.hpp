#pragma once
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/system_root.hpp"
#include "core/unique_fd.hpp"

namespace ibdriver::extension {

// The detached worker that carries `enable`'s long work past the agent's 300 s limit. It holds an
// flock on <extension folder>/worker.lock for its whole life (which is how `enable` tells a second
// worker must not start, and `disable` that one runs) and writes its PID beside it.
class WorkerLock {
 public:
  // nullopt when a worker holds it.
  static std::optional<WorkerLock> try_acquire(const std::filesystem::path& extension_folder);
  // Adopts a lock handed over by `enable` (an inherited descriptor), or waits up to `wait` for it.
  static WorkerLock adopt(int fd);
  static WorkerLock acquire(const std::filesystem::path& extension_folder, std::chrono::seconds wait);
  int fd() const noexcept { return fd_.get(); }
  void write_pid(const std::filesystem::path& extension_folder) const;
  // Removes the PID file: called while the lock is held, so a stale PID is never signalled.
  static void forget_pid(const std::filesystem::path& extension_folder);

 private:
  explicit WorkerLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

bool worker_running(const std::filesystem::path& extension_folder);

// systemd as PID 1 on the real root: the worker then runs as a transient unit, outside the agent's
// cgroup scope (which the agent kills with the enable command).
bool systemd_runs(const SystemRoot& root);
constexpr const char* worker_unit = "ibdriver-extension-worker";

struct WorkerLaunch {
  std::vector<std::string> argv;         // absolute program path first
  std::vector<std::string> environment;  // "KEY=VALUE" the worker needs (overrides, proxies)
  std::filesystem::path output;          // its stdout/stderr (a log file)
  bool use_systemd = false;
};

// Starts the worker detached; `lock` (held by the caller) is handed over on the double-fork path, and
// released by the caller afterwards on the systemd path (the worker then takes it itself).
void start_worker(const WorkerLaunch& launch, const WorkerLock& lock);

// Asks a running worker to stop (SIGTERM to its process group, or `systemctl stop`), waits up to
// `wait` for it to let go of the lock, then kills it. Returns false when none was running.
bool stop_worker(const std::filesystem::path& extension_folder, bool use_systemd, std::chrono::seconds wait);

}  // namespace ibdriver::extension
