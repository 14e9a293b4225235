#pragma once
#include <chrono>
#include <filesystem>

#include "core/unique_fd.hpp"

namespace ibdriver {

// One ibdriver run at a time on a system: an flock on a lock file, waited for (saying who holds it)
// up to a time limit. Released when the owner goes away, or when the process dies.
class RunLock {
 public:
  RunLock(const std::filesystem::path& file, std::chrono::seconds wait);

 private:
  UniqueFd fd_;
};

}  // namespace ibdriver
