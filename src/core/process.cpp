#include "core/process.hpp"
#include "core/detail/exec_support.hpp"
#include "core/run_lock.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "core/cancel.hpp"
#include "core/error.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX declares it nowhere

namespace ibdriver {
namespace {

using Clock = std::chrono::steady_clock;

// Only async-signal-safe calls between fork and exec: the parent may have other threads.
[[noreturn]] void exec_child(int out_fd, int err_fd, int report_fd, const char* working_directory,
                             char* const* argv, char* const* envp) {
  ::setpgid(0, 0);
  int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd < 0 || ::dup2(null_fd, STDIN_FILENO) < 0 || ::dup2(out_fd, STDOUT_FILENO) < 0 ||
      ::dup2(err_fd, STDERR_FILENO) < 0 || (working_directory != nullptr && ::chdir(working_directory) != 0)) {
    int error_number = errno;
    (void)!::write(report_fd, &error_number, sizeof error_number);
    ::_exit(127);
  }
  // Restore default dispositions and mask: the child must be killable by the time limit.
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) ::sigaction(sig, &action, nullptr);
  sigset_t empty;
  ::sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);
  ::execvpe(argv[0], argv, envp);
  int error_number = errno;
  (void)!::write(report_fd, &error_number, sizeof error_number);
  ::_exit(127);
}

void keep_tail(std::string& buffer, const char* data, std::size_t size, std::size_t limit, bool& truncated) {
  buffer.append(data, size);
  // Trim in large steps so a flood costs amortised O(1) per byte.
  if (buffer.size() > 2 * limit) {
    buffer.erase(0, buffer.size() - limit);
    truncated = true;
  }
}

std::string last_lines(const std::string& text, std::size_t max_lines) {
  std::size_t end = text.find_last_not_of("\n \t");
  if (end == std::string::npos) return {};
  std::size_t start = end + 1;
  for (std::size_t lines = 0; lines < max_lines && start > 0; ++lines) {
    std::size_t newline = text.rfind('\n', start - 1);
    start = newline == std::string::npos ? 0 : newline;
    if (newline == std::string::npos) break;
  }
  if (start < text.size() && text[start] == '\n') ++start;
  return text.substr(start, end + 1 - start);
}

// An unlinked file the child writes and we read back: memfd_create (by its system call, so no glibc
// newer than 2.17 is needed), else an unlinked file in TMPDIR or /tmp (kernels before 3.17).
UniqueFd make_output_file(const char* name) {
#ifdef SYS_memfd_create
  long fd = ::syscall(SYS_memfd_create, name, 1U /* MFD_CLOEXEC */);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
#endif
  const char* folder = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe): nothing here sets the environment
  std::string pattern = fmt::format("{}/ibdriver-output-XXXXXX", folder != nullptr && *folder != '\0' ? folder : "/tmp");
  int file = ::mkostemp(pattern.data(), O_CLOEXEC);
  if (file < 0) throw SystemError(ExitCode::operation_failed, fmt::format("creating a file for a command's output ({})", pattern), errno);
  ::unlink(pattern.c_str());
  return UniqueFd(file);
}

// The last `limit` bytes of an output file.
void read_output_tail(int fd, std::size_t limit, std::string& text, bool& truncated) {
  struct stat info {};
  if (::fstat(fd, &info) != 0 || info.st_size <= 0) return;
  auto size = static_cast<std::size_t>(info.st_size);
  std::size_t start = size > limit ? size - limit : 0;
  truncated = start > 0;
  text.resize(size - start);
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t got = ::pread(fd, text.data() + done, text.size() - done, static_cast<off_t>(start + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    done += static_cast<std::size_t>(got);
  }
  text.resize(done);
}

}  // namespace

std::array<UniqueFd, 2> make_pipe() {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) throw SystemError(ExitCode::operation_failed, "creating a pipe", errno);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// The environment of the child: ours with the extra entries added or replaced.
std::vector<std::string> child_environment(const std::vector<std::string>& extra) {
  std::map<std::string, std::string> merged;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string text(*entry);
    merged[text.substr(0, text.find('='))] = text;
  }
  for (const auto& text : extra) merged[text.substr(0, text.find('='))] = text;
  std::vector<std::string> result;
  result.reserve(merged.size());
  for (auto& [key, text] : merged) result.push_back(std::move(text));
  return result;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (auto& text : strings) pointers.push_back(text.data());
  pointers.push_back(nullptr);
  return pointers;
}

std::string format_command(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& arg : argv) {
    if (!line.empty()) line += ' ';
    bool plain = !arg.empty() && arg.find_first_of(" \t\n'\"\\$`*?;&|<>(){}") == std::string::npos;
    if (plain) {
      line += arg;
      continue;
    }
    line += '\'';
    for (char c : arg) line += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += '\'';
  }
  return line;
}

std::string ProcessResult::describe_end() const {
  if (cancelled) return "was stopped because ibdriver was asked to stop";
  if (timed_out) {
    return fmt::format("timed out after {:.1f} s and was killed", static_cast<double>(elapsed.count()) / 1000.0);
  }
  if (signal != 0) return fmt::format("was killed by signal {} ({})", signal, ::strsignal(signal));
  return fmt::format("exited with status {}", exit_status);
}

std::string ProcessResult::tail(std::size_t max_lines) const {
  std::string lines = last_lines(err, max_lines);
  return lines.empty() ? last_lines(out, max_lines) : lines;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const ProcessOptions& options)
    : argv_(argv), options_(options) {
  if (argv.empty() || argv.front().empty()) throw Error(ExitCode::operation_failed, "cannot run an empty command");
  // [0] is what we read, [1] what the child writes: a pipe's two ends, or one output file twice.
  std::array<UniqueFd, 2> out_pipe;
  std::array<UniqueFd, 2> err_pipe;
  if (options.outlive_owner) {
    for (auto* ends : {&out_pipe, &err_pipe}) {
      (*ends)[1] = make_output_file(ends == &out_pipe ? "ibdriver-stdout" : "ibdriver-stderr");
      (*ends)[0] = UniqueFd(::fcntl((*ends)[1].get(), F_DUPFD_CLOEXEC, 0));
      if (!(*ends)[0].valid()) throw SystemError(ExitCode::operation_failed, "duplicating a command's output file", errno);
    }
  } else {
    out_pipe = make_pipe();
    err_pipe = make_pipe();
  }
  auto report_pipe = make_pipe();  // carries errno if exec fails; closes on success (CLOEXEC)

  std::vector<std::string> argv_copy = argv;
  std::vector<std::string> environment = child_environment(options.extra_environment);
  std::vector<char*> argv_pointers = c_strings(argv_copy);
  std::vector<char*> env_pointers = c_strings(environment);
  const char* working_directory = options.working_directory ? options.working_directory->c_str() : nullptr;

  started_ = Clock::now();
  pid_ = ::fork();
  if (pid_ < 0) throw SystemError(ExitCode::operation_failed, fmt::format("starting {}", argv.front()), errno);
  if (pid_ == 0) {
    exec_child(out_pipe[1].get(), err_pipe[1].get(), report_pipe[1].get(), working_directory,
               argv_pointers.data(), env_pointers.data());
  }
  ::setpgid(pid_, pid_);  // also in the parent: no race with an early signal_group()
  out_pipe[1].reset();
  err_pipe[1].reset();
  report_pipe[1].reset();

  int exec_errno = 0;
  ssize_t got = 0;
  do {
    got = ::read(report_pipe[0].get(), &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    throw SystemError(ExitCode::operation_failed, fmt::format("cannot run {}", argv.front()), exec_errno,
                      exec_errno == ENOENT ? fmt::format("install the package that provides {}", argv.front())
                                           : std::string{});
  }
  out_ = std::move(out_pipe[0]);
  err_ = std::move(err_pipe[0]);
  note_child_started(pid_);  // so a run after a kill -9 of this one waits for it (core/run_lock.hpp)
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : argv_(std::move(other.argv_)),
      options_(std::move(other.options_)),
      pid_(std::exchange(other.pid_, -1)),
      out_(std::move(other.out_)),
      err_(std::move(other.err_)),
      started_(other.started_) {}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    signal_group(SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    note_child_ended(pid_);
  }
}

void ChildProcess::signal_group(int signal_number) const noexcept {
  if (pid_ > 0) ::kill(-pid_, signal_number);
}

ProcessResult ChildProcess::wait() {
  ProcessResult result;
  result.argv = argv_;
  const bool limited = options_.time_limit.count() > 0;
  const auto deadline = started_ + options_.time_limit;
  std::optional<Clock::time_point> kill_at;  // set once SIGTERM was sent
  bool exited = false;
  int status = 0;
  rusage usage{};
  std::optional<Clock::time_point> drain_until;  // the child exited; a grandchild may hold the pipes
  std::array<char, 65536> chunk{};
  const bool files = options_.outlive_owner;

  while (files ? !exited : (out_.valid() || err_.valid())) {
    auto now = Clock::now();
    if (limited && !exited && !kill_at && now >= deadline) {
      result.timed_out = true;
      signal_group(SIGTERM);
      kill_at = now + options_.kill_grace;
    }
    if (!exited && !kill_at && cancel_requested()) {
      result.cancelled = true;
      signal_group(SIGTERM);
      kill_at = now + options_.kill_grace;
    }
    if (kill_at && now >= *kill_at) {
      signal_group(SIGKILL);
      kill_at = now + std::chrono::hours(24);
    }
    if (!exited) {
      pid_t done = ::wait4(pid_, &status, WNOHANG, &usage);
      if (done == pid_) {
        exited = true;
        drain_until = now + std::chrono::seconds(1);
      }
    }
    if (drain_until && now >= *drain_until) break;
    if (files) {
      // Output files are read once it exited; until then a 50 ms tick for the time limit and cancel.
      if (!exited) ::poll(nullptr, 0, 50);
      continue;
    }

    std::array<pollfd, 2> fds{pollfd{out_.get(), POLLIN, 0}, pollfd{err_.get(), POLLIN, 0}};
    int ready = ::poll(fds.data(), fds.size(), 50);
    if (ready < 0 && errno != EINTR) throw SystemError(ExitCode::operation_failed, "waiting for a child", errno);
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      UniqueFd& fd = i == 0 ? out_ : err_;
      ssize_t got = ::read(fd.get(), chunk.data(), chunk.size());
      if (got > 0) {
        if (i == 0) keep_tail(result.out, chunk.data(), static_cast<std::size_t>(got), options_.capture_limit, result.out_truncated);
        else keep_tail(result.err, chunk.data(), static_cast<std::size_t>(got), options_.capture_limit, result.err_truncated);
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        fd.reset();
      }
    }
  }
  if (files) {
    read_output_tail(out_.get(), options_.capture_limit, result.out, result.out_truncated);
    read_output_tail(err_.get(), options_.capture_limit, result.err, result.err_truncated);
  }
  out_.reset();
  err_.reset();
  if (!exited) {
    while (::wait4(pid_, &status, 0, &usage) < 0) {
      if (errno != EINTR) break;
    }
  }
  note_child_ended(pid_);
  pid_ = -1;
  result.max_rss_kib = usage.ru_maxrss;
  auto trim = [limit = options_.capture_limit](std::string& text, bool& truncated) {
    if (text.size() <= limit) return;
    text.erase(0, text.size() - limit);
    truncated = true;
  };
  trim(result.out, result.out_truncated);
  trim(result.err, result.err_truncated);
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_);
  if (WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
  ChildProcess child(argv, options);
  return child.wait();
}

}  // namespace ibdriver
