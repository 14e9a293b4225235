#include "core/detach.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/detail/exec_support.hpp"
#include "core/unique_fd.hpp"

namespace ibdriver {
namespace {

bool read_exactly(int fd, void* data, std::size_t size) {
  auto* bytes = static_cast<char*>(data);
  std::size_t done = 0;
  while (done < size) {
    ssize_t got = ::read(fd, bytes + done, size - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += static_cast<std::size_t>(got);
  }
  return true;
}

// In the program's process, between fork and exec: only system calls.
[[noreturn]] void become_program(const char* program, char* const* argv, char* const* envp, int null_fd, int output_fd,
                                 std::optional<int> inherited_fd, int error_fd) {
  ::dup2(null_fd, STDIN_FILENO);
  ::dup2(output_fd, STDOUT_FILENO);
  ::dup2(output_fd, STDERR_FILENO);
  long highest = std::min(::sysconf(_SC_OPEN_MAX), 4096L);
  for (int fd = 3; fd < highest; ++fd) {
    if (fd != error_fd && (!inherited_fd || fd != *inherited_fd)) ::close(fd);
  }
  if (inherited_fd) ::fcntl(*inherited_fd, F_SETFD, 0);  // keep it across exec
  ::execve(program, argv, envp);
  int error_number = errno;
  (void)!::write(error_fd, &error_number, sizeof error_number);
  ::_exit(127);
}

}  // namespace

pid_t spawn_detached(const std::vector<std::string>& argv, const DetachOptions& options) {
  if (argv.empty() || argv.front().empty() || argv.front().front() != '/') {
    throw Error(ExitCode::operation_failed, "a detached program needs an absolute path");
  }
  auto arguments = argv;
  auto environment = child_environment(options.extra_environment);
  auto argv_pointers = c_strings(arguments);
  auto envp_pointers = c_strings(environment);

  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  UniqueFd output_fd(options.output ? ::open(options.output->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)
                                    : ::open("/dev/null", O_WRONLY | O_CLOEXEC));
  if (!null_fd.valid() || !output_fd.valid()) {
    throw SystemError(ExitCode::operation_failed, "cannot open the detached program's output", errno);
  }
  auto [pid_read, pid_write] = make_pipe();      // the program's PID, from the middle process
  auto [error_read, error_write] = make_pipe();  // errno of a failed exec; EOF once it ran
  pid_t middle = ::fork();
  if (middle < 0) throw SystemError(ExitCode::operation_failed, "cannot fork", errno);
  if (middle == 0) {
    ::setsid();  // a new session: out of the caller's process group, no controlling terminal
    pid_t program = ::fork();
    if (program == 0) {
      ::setpgid(0, 0);  // its own process group, so it can be signalled as one (kill -PID)
      become_program(argv_pointers[0], argv_pointers.data(), envp_pointers.data(), null_fd.get(), output_fd.get(),
                     options.inherited_fd, error_write.get());
    }
    (void)!::write(pid_write.get(), &program, sizeof program);
    ::_exit(program < 0 ? 1 : 0);
  }
  pid_write.reset();
  error_write.reset();
  int status = 0;
  while (::waitpid(middle, &status, 0) < 0 && errno == EINTR) {
  }
  pid_t program = -1;
  if (!read_exactly(pid_read.get(), &program, sizeof program) || program < 0) {
    throw Error(ExitCode::operation_failed, fmt::format("cannot start {} detached (fork failed)", argv.front()));
  }
  int exec_errno = 0;
  if (read_exactly(error_read.get(), &exec_errno, sizeof exec_errno)) {
    throw SystemError(ExitCode::operation_failed, fmt::format("cannot run {}", argv.front()), exec_errno);
  }
  return program;
}

}  // namespace ibdriver
