#pragma once
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include "core/unique_fd.hpp"

namespace ibdriver::test {

// The service manager's side of sd_notify(3): a datagram socket bound where $NOTIFY_SOCKET names it
// (set while this object lives).
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& name) : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    REQUIRE(fd_.valid());
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name.data(), name.size());
    if (name.front() == '@') address.sun_path[0] = '\0';
    auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (name.front() == '@' ? 0 : 1));
    REQUIRE(::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&address), length) == 0);
    timeval wait{30, 0};  // a bound on a wait for a message that is due, never a pause
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;
  ~NotifySocket() { ::unsetenv("NOTIFY_SOCKET"); }

  // The next message (waits for it, within the bound); nullopt when none came.
  std::optional<std::string> next(bool wait = true) const {
    char buffer[4096];
    auto got = ::recv(fd_.get(), buffer, sizeof buffer, wait ? 0 : MSG_DONTWAIT);
    if (got < 0) return std::nullopt;
    return std::string(buffer, static_cast<std::size_t>(got));
  }

 private:
  UniqueFd fd_;
};


}  // namespace ibdriver::test
