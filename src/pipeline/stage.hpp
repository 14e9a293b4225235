#pragma once
#include <array>
#include <functional>
#include <string>
#include <string_view>

namespace ibdriver::pipeline {

// The stages of the main job, in order, named as everywhere else (code, journal, log lines, `--json`,
// the extension's substatus; ../shared/DESIGN.md). A kernel is a field of a record, never part of a name.
enum class StageName { detect, resolve, fetch, unpack, packages, dkms, configure, load, validate };
inline constexpr std::array<StageName, 9> stage_order{StageName::detect,   StageName::resolve,   StageName::fetch,
                                                      StageName::unpack,   StageName::packages,  StageName::dkms,
                                                      StageName::configure, StageName::load,     StageName::validate};
std::string_view to_string(StageName stage);

// What a stage reports as it runs (the extension's status file shows one substatus per stage).
enum class StageEvent { started, done, skipped, failed };  // failed: only for work left after the ready point
using StageListener = std::function<void(std::string_view stage, StageEvent event, const std::string& message)>;

}  // namespace ibdriver::pipeline
