#include "core/cancel.hpp"

#include <csignal>

#include <fmt/format.h>

#include "core/error.hpp"

namespace ibdriver {
namespace {
volatile std::sig_atomic_t cancel_flag = 0;
}

void request_cancel() noexcept { cancel_flag = 1; }

bool cancel_requested() noexcept { return cancel_flag != 0; }

void throw_if_cancelled(const char* doing) {
  if (cancel_requested()) {
    throw Error(ExitCode::operation_failed, fmt::format("stopped while {}: ibdriver was asked to stop", doing),
                "run the same command again to resume where it stopped");
  }
}

}  // namespace ibdriver
