#pragma once
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ibdriver {

struct DetachOptions {
  std::vector<std::string> extra_environment;   // "KEY=VALUE", added to (and overriding) ours
  std::optional<int> inherited_fd;              // stays open in the program (e.g. a held flock)
  std::optional<std::filesystem::path> output;  // stdout and stderr appended here; else /dev/null
};

// Starts argv[0] (an absolute path) so that it outlives us and whoever kills our process group: a
// double fork, a new session (its own process group, no terminal), reparented to init. Returns its PID
// once it is running; throws Error (operation_failed) when it cannot be executed. Call it before any
// thread is started (only the forked child's own code runs between fork and exec).
pid_t spawn_detached(const std::vector<std::string>& argv, const DetachOptions& options);

}  // namespace ibdriver
