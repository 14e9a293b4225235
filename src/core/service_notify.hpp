#pragma once
#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "core/unique_fd.hpp"

namespace ibdriver {

// Sends one state message to the service manager, as sd_notify(3) does: a datagram ("READY=1",
// "STATUS=...", lines separated by '\n') to the AF_UNIX socket named by $NOTIFY_SOCKET (a leading '@'
// names the abstract namespace). Returns false, and does nothing, when the variable is unset (not run
// by systemd as Type=notify) or the socket cannot be reached; never throws.
bool notify_service_manager(std::string_view state);

// Readiness with a bound, for a Type=notify unit that must not hold the boot for long: READY=1 is sent
// when `ready()` is called or when `bound` has passed, whichever comes first, and at the latest when
// the object is destroyed (systemd fails a Type=notify start whose process exits before READY=1).
// `waiting_status` is the STATUS= line sent with an early READY (what still goes on).
// The timer waits in poll(2) on an eventfd, not on a condition variable: libstdc++'s steady-clock
// wait calls pthread_cond_clockwait, which needs glibc 2.30, above the extension zip's floor (2.28).
class BoundedReadiness {
 public:
  BoundedReadiness(std::chrono::seconds bound, std::string waiting_status);
  BoundedReadiness(const BoundedReadiness&) = delete;
  BoundedReadiness& operator=(const BoundedReadiness&) = delete;
  ~BoundedReadiness();

  // The work is done: READY=1 now with `status` as its STATUS= line; when READY already went out at
  // the bound, the STATUS= line alone (how the work ended).
  void ready(std::string_view status);
  // Whether READY=1 went out because the bound passed first.
  bool bound_passed() const;

 private:
  void send_once(std::string_view status, bool by_bound);

  void wake_timer();

  mutable std::mutex mutex_;
  UniqueFd wakeup_;  // an eventfd: written when READY went out, ending the timer's wait
  bool sent_ = false;
  bool by_bound_ = false;
  std::string waiting_status_;
  std::thread timer_;
};

}  // namespace ibdriver
