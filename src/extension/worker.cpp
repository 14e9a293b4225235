#include "extension/worker.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <thread>

#include <fmt/format.h>

#include "core/detach.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/process.hpp"
#include "core/text.hpp"

namespace ibdriver::extension {
namespace fs = std::filesystem;
namespace {

fs::path lock_file(const fs::path& folder) { return folder / "worker.lock"; }
fs::path pid_file(const fs::path& folder) { return folder / "worker.pid"; }

UniqueFd open_lock(const fs::path& folder) {
  // Not O_CLOEXEC: the descriptor is handed to the detached worker.
  UniqueFd fd(::open(lock_file(folder).c_str(), O_RDWR | O_CREAT, 0600));  // NOLINT(android-cloexec-open)
  if (!fd.valid()) throw FileError(ExitCode::operation_failed, "cannot open the worker lock", lock_file(folder), errno);
  return fd;
}

std::optional<pid_t> recorded_pid(const fs::path& folder) {
  auto text = read_file_if_exists(pid_file(folder), 64);
  if (!text) return std::nullopt;
  auto pid = text::parse_decimal(*text);
  return pid && *pid > 1 ? std::optional<pid_t>(*pid) : std::nullopt;
}

}  // namespace

std::optional<WorkerLock> WorkerLock::try_acquire(const fs::path& extension_folder) {
  auto fd = open_lock(extension_folder);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return std::nullopt;
    throw FileError(ExitCode::operation_failed, "cannot lock", lock_file(extension_folder), errno);
  }
  return WorkerLock(std::move(fd));
}

WorkerLock WorkerLock::adopt(int fd) {
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return WorkerLock(UniqueFd(fd));
}

WorkerLock WorkerLock::acquire(const fs::path& extension_folder, std::chrono::seconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    if (auto lock = try_acquire(extension_folder)) return std::move(*lock);
    if (std::chrono::steady_clock::now() > deadline) {
      throw Error(ExitCode::operation_failed, fmt::format("another extension worker holds {}", lock_file(extension_folder).string()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void WorkerLock::write_pid(const fs::path& extension_folder) const {
  write_file_atomically(pid_file(extension_folder), fmt::format("{}\n", ::getpid()));
}

void WorkerLock::forget_pid(const fs::path& extension_folder) {
  std::error_code error;
  fs::remove(pid_file(extension_folder), error);
}

bool worker_running(const fs::path& extension_folder) { return !WorkerLock::try_acquire(extension_folder).has_value(); }

bool systemd_runs(const SystemRoot& root) {
  std::error_code error;
  return root.path("/") == fs::path("/") && fs::is_directory("/run/systemd/system", error);
}

void start_worker(const WorkerLaunch& launch, const WorkerLock& lock) {
  if (launch.use_systemd) {
    // A transient service: its own cgroup, so the agent's kill of the enable scope cannot reach it.
    std::vector<std::string> argv{"systemd-run", "--unit", worker_unit, "--description",
                                  "ibdriver: Azure InfiniBand extension worker", "--collect", "--quiet"};
    for (const auto& entry : launch.environment) argv.push_back("--setenv=" + entry);
    argv.emplace_back("--");
    argv.insert(argv.end(), launch.argv.begin(), launch.argv.end());
    ProcessOptions process;
    process.time_limit = std::chrono::seconds(60);
    auto result = run_process(argv, process);
    if (!result.succeeded()) {
      throw Error(ExitCode::operation_failed,
                  fmt::format("systemd-run could not start the worker ({}): {}", result.describe_end(), result.tail(3)),
                  fmt::format("see `systemctl status {}` and `journalctl -u {}`", worker_unit, worker_unit));
    }
    return;
  }
  auto argv = launch.argv;
  argv.push_back(fmt::format("--lock-fd={}", lock.fd()));
  DetachOptions detach;
  detach.extra_environment = launch.environment;
  detach.inherited_fd = lock.fd();
  detach.output = launch.output;
  spawn_detached(argv, detach);
}

bool stop_worker(const fs::path& extension_folder, bool use_systemd, std::chrono::seconds wait) {
  if (!worker_running(extension_folder)) return false;
  if (use_systemd) {
    ProcessOptions process;
    process.time_limit = std::chrono::seconds(30);
    (void)run_process({"systemctl", "stop", "--no-block", std::string(worker_unit) + ".service"}, process);
  }
  auto pid = recorded_pid(extension_folder);
  // A worker that was just started may not have written its PID yet.
  for (int i = 0; i < 100 && !pid && worker_running(extension_folder); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    pid = recorded_pid(extension_folder);
  }
  if (pid) ::kill(-*pid, SIGTERM);  // the worker leads its own process group
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!worker_running(extension_folder)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  log::warning(fmt::format("the extension worker (PID {}) did not stop within {} s: killing it", pid ? std::to_string(*pid) : "?", wait.count()));
  if (pid) ::kill(-*pid, SIGKILL);
  for (int i = 0; i < 50 && worker_running(extension_folder); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return true;
}

}  // namespace ibdriver::extension
