#pragma once
#include <string_view>

namespace ibdriver {

std::string_view project_version();  // from the CMake project version
std::string_view git_revision();     // short hash of the source tree, or "unknown"

}  // namespace ibdriver
