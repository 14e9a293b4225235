#pragma once

namespace ibdriver {

// A process-wide stop request, set from a SIGTERM handler (the extension's `disable`): long waits
// (child processes, downloads) notice it, end what they started and fail with a "stopped" error, so
// the journal stays consistent and a later run resumes.
void request_cancel() noexcept;  // async-signal-safe
bool cancel_requested() noexcept;
// Throws Error (operation_failed) when a stop was requested; `doing` names where it stopped.
void throw_if_cancelled(const char* doing);

}  // namespace ibdriver
