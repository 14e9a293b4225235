#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "core/unique_fd.hpp"

namespace ibdriver {

struct ProcessOptions {
  // Zero means no limit. On expiry the whole process group gets SIGTERM, then SIGKILL after grace.
  std::chrono::milliseconds time_limit{0};
  std::chrono::milliseconds kill_grace{2000};
  // Only the last capture_limit bytes of each stream are kept; a flood never grows memory.
  std::size_t capture_limit = 1024 * 1024;
  std::optional<std::string> working_directory;
  std::vector<std::string> extra_environment;  // "KEY=VALUE", added to (and overriding) ours
  // The child's stdout and stderr go to unlinked in-memory files instead of pipes, read when it exits.
  // For the commands that change the system (a package transaction, a DKMS build): if ibdriver is
  // killed (kill -9, a dropped SSH session), a child writing to a pipe with no reader dies of SIGPIPE
  // at its next line, mid-transaction (seen: an OFED core postinst cut between its build and its
  // post-build step, and the next run's `dpkg --configure -a` failing). With files it finishes its work.
  // Only for commands whose output is modest (the files hold all of it until the child exits;
  // capture_limit still bounds what is read back).
  bool outlive_owner = false;
};

struct ProcessResult {
  std::vector<std::string> argv;
  int exit_status = -1;  // valid when signal == 0
  int signal = 0;        // the signal that ended it, 0 if it exited
  bool timed_out = false;
  bool cancelled = false;  // ended because of request_cancel() (core/cancel.hpp)
  std::string out;
  std::string err;
  bool out_truncated = false;
  bool err_truncated = false;
  std::chrono::milliseconds elapsed{0};
  long max_rss_kib = 0;  // peak resident memory of the child itself (getrusage ru_maxrss)

  bool succeeded() const { return signal == 0 && !timed_out && !cancelled && exit_status == 0; }
  // "exited with status 2", "killed by signal 9 (Killed)", "timed out after 5.0 s and was killed".
  std::string describe_end() const;
  // The last lines of stderr (or stdout when stderr is empty), for error messages.
  std::string tail(std::size_t max_lines = 10) const;
};

// A started child in its own process group. The destructor kills the group and reaps the child,
// so no child outlives its owner by accident.
class ChildProcess {
 public:
  // Throws Error (operation_failed) when the program cannot be executed, naming it.
  ChildProcess(const std::vector<std::string>& argv, const ProcessOptions& options);
  ChildProcess(ChildProcess&&) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const noexcept { return pid_; }
  // Reads its output until it exits (or the time limit ends it) and returns how it ended.
  ProcessResult wait();
  // Sends a signal to the whole process group.
  void signal_group(int signal_number) const noexcept;

 private:
  std::vector<std::string> argv_;
  ProcessOptions options_;
  pid_t pid_ = -1;
  UniqueFd out_;
  UniqueFd err_;
  std::chrono::steady_clock::time_point started_;
};

// Runs argv (no shell: argv[0] is looked up in PATH) with stdin from /dev/null, capturing both streams.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// Quotes argv for a log line (never for execution).
std::string format_command(const std::vector<std::string>& argv);

}  // namespace ibdriver
