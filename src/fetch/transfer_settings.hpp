#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <filesystem>

namespace ibdriver::fetch {

// How hard a download tries. Defaults suit a 300-500 MB bundle on an unattended VM.
struct TransferSettings {
  int attempts_per_source = 6;  // failed attempts; busy answers (429, 503 + Retry-After) are not counted...
  std::chrono::milliseconds busy_patience{1800000};  // ...but their waits, per source, are bounded by this
  std::chrono::milliseconds first_backoff{1000};
  std::chrono::milliseconds max_backoff{60000};
  std::chrono::milliseconds stall_timeout{30000};    // no byte for this long: abort the attempt and resume
  std::chrono::milliseconds overall_timeout{7200000};  // for everything, all sources and attempts
  std::chrono::milliseconds connect_timeout{20000};
  long max_redirects = 5;
  std::optional<std::filesystem::path> extra_ca;  // --ca-bundle: trusted besides the system store
  std::optional<std::string> proxy;               // --proxy; otherwise libcurl reads https_proxy/no_proxy
};

}  // namespace ibdriver::fetch
