#include "core/service_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
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
    : waiting_status_(std::move(waiting_status)) {
  timer_ = std::thread([this, bound] {
    std::unique_lock lock(mutex_);
    if (!woken_.wait_for(lock, bound, [this] { return sent_; })) {
      lock.unlock();
      send_once(waiting_status_, true);
    }
  });
}

BoundedReadiness::~BoundedReadiness() {
  send_once("", false);
  woken_.notify_all();
  if (timer_.joinable()) timer_.join();
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
  woken_.notify_all();
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
