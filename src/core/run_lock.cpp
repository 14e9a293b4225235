#include "core/run_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "core/cancel.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/text.hpp"

namespace ibdriver {

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
  auto pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_.get(), 0) == 0) (void)!::pwrite(fd_.get(), pid.data(), pid.size(), 0);
}

}  // namespace ibdriver
