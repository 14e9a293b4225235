#pragma once
#include <cstdio>

#include "pipeline/plan.hpp"
#include "platform/platform_report.hpp"

namespace ibdriver::cli {

// Human renderings of the reports, for a terminal.
void print_platform(std::FILE* out, const platform::PlatformReport& report);
void print_checks(std::FILE* out, const platform::PlatformReport& report);
void print_plan(std::FILE* out, const pipeline::Plan& plan);

}  // namespace ibdriver::cli
