#pragma once
#include <string>

#include "core/remedy.hpp"

namespace ibdriver::cli {

// A remedy as the command line says it: "--lock-wait 1200".
std::string flag_for(const Remedy& remedy);

// "<hint>; or pass --skip-vmbus-check" (the hint alone when there is no remedy).
std::string hint_with_flags(const std::string& hint, const Remedies& remedies);

}  // namespace ibdriver::cli
