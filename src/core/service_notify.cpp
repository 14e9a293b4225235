#include "core/service_notify.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "core/log.hpp"
#include "core/unique_fd.hpp"

namespace ibdriver {

namespace {
// A STATUS= value is one line of the datagram: a newline would start another assignment.
std::string one_line(std::string_view text) {
  std::string line(text);
  std::replace(line.begin(), line.end(), '\n', ' ');
  return line;
}
}  // namespace

bool notify_service_manager(std::string_view state) {
  const char* name = std::getenv("NOTIFY_SOCKET");
  if (name == nullptr || name[0] == '\0') return false;
  std::string_view path(name);
  sockaddr_un address{};
  if (path.size() >= sizeof(address.sun_path) || (path.front() != '/' && path.front() != '@')) return false;
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  if (path.front() == '@') address.sun_path[0] = '\0';  // the abstract namespace: no file, no terminating NUL
  auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (path.front() == '@' ? 0 : 1));
  UniqueFd socket_fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!socket_fd.valid()) return false;
  auto sent = ::sendto(socket_fd.get(), state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&address), length);
  if (sent < 0) log::debug(fmt::format("cannot notify the service manager at {}: {}", path, std::strerror(errno)));
  return sent == static_cast<ssize_t>(state.size());
}

BoundedReadiness::BoundedReadiness(std::chrono::seconds bound, std::string waiting_status)
    : wakeup_(::eventfd(0, EFD_CLOEXEC)), waiting_status_(std::move(waiting_status)) {
  timer_ = std::thread([this, bound] {
    // poll's timeout runs on the monotonic clock: a clock set during boot moves no bound.
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (wakeup_.valid()) {  // without an eventfd (never seen) READY goes out at once: the boot is not held
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd woken{wakeup_.get(), POLLIN, 0};
      int ready = ::poll(&woken, 1, static_cast<int>(std::min<std::chrono::milliseconds::rep>(left.count(), 60'000)));
      if (ready > 0) return;  // READY went out (ready() or the destructor)
      if (ready < 0 && errno != EINTR) break;
    }
    send_once(waiting_status_, true);
  });
}

BoundedReadiness::~BoundedReadiness() {
  send_once("", false);
  wake_timer();
  if (timer_.joinable()) timer_.join();
}

void BoundedReadiness::wake_timer() {
  if (!wakeup_.valid()) return;
  std::uint64_t one = 1;
  // A full counter (never, at one write per object) or an error leaves the timer to its bound.
  [[maybe_unused]] auto written = ::write(wakeup_.get(), &one, sizeof one);
}

void BoundedReadiness::ready(std::string_view status) {
  bool already_sent = false;
  {
    std::lock_guard lock(mutex_);
    already_sent = sent_;
  }
  if (already_sent) {
    // READY went out at the bound: the status line now says how the work ended.
    if (!status.empty()) notify_service_manager("STATUS=" + one_line(status));
  } else {
    send_once(status, false);
  }
  wake_timer();
}

bool BoundedReadiness::bound_passed() const {
  std::lock_guard lock(mutex_);
  return by_bound_;
}

void BoundedReadiness::send_once(std::string_view status, bool by_bound) {
  {
    std::lock_guard lock(mutex_);
    if (sent_) return;
    sent_ = true;
    by_bound_ = by_bound;
  }
  bool told = notify_service_manager(status.empty() ? std::string("READY=1") : fmt::format("READY=1\nSTATUS={}", one_line(status)));
  if (by_bound && told) log::info(fmt::format("told systemd the boot may go on: {}", status));
}

}  // namespace ibdriver
