#include "core/run_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <signal.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <vector>
#include <cerrno>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "core/cancel.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/text.hpp"

namespace ibdriver {

namespace {

struct Child {
  int pid = 0;
  unsigned long long start = 0;  // /proc/<pid>/stat field 22: tells a live child from a reused PID
  std::string command;
};

// The children of this run, while a RunLock is held (one lock per process).
std::mutex registry_mutex;
int registry_fd = -1;
std::vector<Child> registry;

std::optional<Child> read_child(int pid) {
  auto stat = read_file_if_exists(fmt::format("/proc/{}/stat", pid), 4096);
  if (!stat) return std::nullopt;
  // "pid (comm) state ppid ...": the command may hold spaces and parentheses; fields follow the last ')'.
  auto open = stat->find('(');
  auto close = stat->rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  auto fields = text::split(std::string_view(*stat).substr(close + 2), ' ');
  if (fields.size() < 20) return std::nullopt;
  Child child{pid, 0, stat->substr(open + 1, close - open - 1)};
  child.start = std::strtoull(std::string(fields[19]).c_str(), nullptr, 10);
  return child;
}

void write_registry(int pid_of_run) {
  if (registry_fd < 0) return;
  std::string text = fmt::format("{}\n", pid_of_run);
  for (const auto& child : registry) text += fmt::format("child {} {} {}\n", child.pid, child.start, child.command);
  if (::ftruncate(registry_fd, 0) == 0) (void)!::pwrite(registry_fd, text.data(), text.size(), 0);
}

// The children an earlier (killed) run recorded that are still alive.
std::vector<Child> orphans(const std::string& recorded) {
  std::vector<Child> alive;
  for (auto line : text::split(recorded, '\n')) {
    auto fields = text::split(line, ' ');
    if (fields.size() < 4 || fields[0] != "child") continue;
    auto pid = text::parse_decimal(fields[1]);
    if (!pid) continue;
    auto now = read_child(*pid);
    auto start = std::strtoull(std::string(fields[2]).c_str(), nullptr, 10);
    // The leader itself, or what it left in its process group (apt-get's dpkg).
    if ((now && now->start == start) || ::kill(-*pid, 0) == 0) alive.push_back(now && now->start == start ? *now : Child{*pid, start, std::string(fields[3])});
  }
  return alive;
}

std::string describe(const std::vector<Child>& children) {
  std::string text;
  for (const auto& child : children) text += fmt::format("{}{} (PID {})", text.empty() ? "" : ", ", child.command, child.pid);
  return text;
}

}  // namespace

void note_child_started(int pid) {
  std::lock_guard guard(registry_mutex);
  if (registry_fd < 0) return;
  registry.push_back(read_child(pid).value_or(Child{pid, 0, "?"}));
  write_registry(::getpid());
}

void note_child_ended(int pid) {
  std::lock_guard guard(registry_mutex);
  if (registry_fd < 0) return;
  registry.erase(std::remove_if(registry.begin(), registry.end(), [&](const Child& child) { return child.pid == pid; }), registry.end());
  write_registry(::getpid());
}

RunLock::~RunLock() {
  std::lock_guard guard(registry_mutex);
  if (registry_fd == fd_.get()) {
    registry_fd = -1;
    registry.clear();
  }
}

RunLock::RunLock(const std::filesystem::path& file, std::chrono::seconds wait) {
  std::error_code error;
  std::filesystem::create_directories(file.parent_path(), error);
  fd_.reset(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd_.valid()) throw FileError(ExitCode::operation_failed, "cannot open the lock", file, errno, "run ibdriver as root");
  auto deadline = std::chrono::steady_clock::now() + wait;
  bool told = false;
  while (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) throw FileError(ExitCode::operation_failed, "cannot lock", file, errno);
    if (!told) {
      std::array<char, 64> holder{};
      ssize_t got = ::pread(fd_.get(), holder.data(), holder.size() - 1, 0);
      log::info(fmt::format("another ibdriver run (PID {}) holds {}: waiting up to {} s",
                            got > 0 ? std::string(text::trim(std::string_view(holder.data(), static_cast<std::size_t>(got)))) : "?",
                            file.string(), wait.count()));
      told = true;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw Error(ExitCode::operation_failed, fmt::format("another ibdriver run still holds {}", file.string()),
                  "wait for it to finish (see /var/log/ibdriver.log), then run again");
    }
    throw_if_cancelled("waiting for another ibdriver run");
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  // What the previous holder recorded: children a killed run left behind are waited for.
  std::string recorded(4096, '\0');
  auto got = ::pread(fd_.get(), recorded.data(), recorded.size(), 0);
  recorded.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  std::string announced;
  for (auto left = orphans(recorded); !left.empty(); left = orphans(recorded)) {
    auto names = describe(left);
    if (std::chrono::steady_clock::now() > deadline) {
      throw Error(ExitCode::operation_failed,
                  fmt::format("{} started by an earlier ibdriver run that was killed {} still running", names, left.size() == 1 ? "is" : "are"),
                  "let it finish (or stop it), then run again, or wait longer",
                  {{Knob::lock_wait, std::to_string(2 * wait.count())}});
    }
    if (names != announced) {
      log::info(fmt::format("{} started by an earlier ibdriver run that was killed {} still running: waiting up to {} s for {}", names,
                            left.size() == 1 ? "is" : "are", wait.count(), left.size() == 1 ? "it" : "them"));
      announced = names;
    }
    throw_if_cancelled("waiting for an earlier run's processes");
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  std::lock_guard guard(registry_mutex);
  registry_fd = fd_.get();
  registry.clear();
  write_registry(::getpid());
}

}  // namespace ibdriver
