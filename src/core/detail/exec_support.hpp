#pragma once
#include <array>
#include <string>
#include <vector>

#include "core/unique_fd.hpp"

namespace ibdriver {

// Shared by the ways ibdriver starts programs (core/process, core/detach), prepared before fork.

// A pipe whose ends close on exec: {read, write}. Throws SystemError.
std::array<UniqueFd, 2> make_pipe();

// The environment of a child: ours with the extra "KEY=VALUE" entries added or replaced.
std::vector<std::string> child_environment(const std::vector<std::string>& extra);

// argv/envp for exec: pointers into `strings`, ending with nullptr.
std::vector<char*> c_strings(std::vector<std::string>& strings);

}  // namespace ibdriver
