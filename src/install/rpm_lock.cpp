#include "install/rpm_lock.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <thread>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "core/unique_fd.hpp"

namespace ibdriver::install {

namespace {

std::string command_of(pid_t pid) {
  auto comm = read_file_if_exists(fmt::format("/proc/{}/comm", pid), 256);
  return comm ? std::string(text::trim(*comm)) : std::string();
}

std::optional<pid_t> fcntl_holder(const std::filesystem::path& file) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  if (::fcntl(fd.get(), F_GETLK, &probe) != 0 || probe.l_type == F_UNLCK) return std::nullopt;
  return probe.l_pid;
}

std::optional<pid_t> pid_file_holder(const std::filesystem::path& file) {
  auto content = read_file_if_exists(file, 64);
  if (!content) return std::nullopt;
  auto digits = std::string(text::trim(*content));
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) return std::nullopt;
  auto pid = static_cast<pid_t>(std::stol(digits));
  std::error_code error;
  if (pid <= 0 || pid == ::getpid() || !std::filesystem::exists(fmt::format("/proc/{}", pid), error)) return std::nullopt;
  return pid;
}

}  // namespace

std::optional<LockHolder> rpm_lock_holder(const SystemRoot& root, const RpmLocks& locks) {
  for (const auto& lock : locks.fcntl_locks) {
    if (auto pid = fcntl_holder(root.path(lock)); pid && *pid != ::getpid()) return LockHolder{*pid, command_of(*pid), lock};
  }
  for (const auto& lock : locks.pid_files) {
    if (auto pid = pid_file_holder(root.path(lock))) return LockHolder{*pid, command_of(*pid), lock};
  }
  return std::nullopt;
}

void wait_for_rpm_locks(const SystemRoot& root, const RpmLocks& locks, std::chrono::seconds timeout, const std::string& tool) {
  auto holder = rpm_lock_holder(root, locks);
  if (!holder) return;
  auto describe = [](const LockHolder& who) {
    return fmt::format("{}PID {} holds {}", who.command.empty() ? "" : who.command + ", ", who.pid, who.lock);
  };
  log::info(fmt::format("the package database is locked ({}): waiting up to {} s before running {}", describe(*holder),
                        timeout.count(), tool));
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (holder) {
    if (std::chrono::steady_clock::now() >= deadline) {
      throw Error(ExitCode::operation_failed,
                  fmt::format("the package database is still locked after {} s ({})", timeout.count(), describe(*holder)),
                  "let that package manager finish (or stop it), then run ibdriver again, or wait longer",
                  Remedies{{Knob::lock_wait, std::to_string(2 * timeout.count())}});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    holder = rpm_lock_holder(root, locks);
  }
}

}  // namespace ibdriver::install
