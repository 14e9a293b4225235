#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "core/process.hpp"

namespace ibdriver::test {

// The built ibdriver command, run as a user runs it (a real process, 120 s at most).
ProcessResult run_ibdriver(std::vector<std::string> arguments, std::vector<std::string> environment = {});

// The whole content of a file ("" when it cannot be read), for checks on what a test wrote.
std::string file_text(const std::filesystem::path& file);

// tests/fixtures/make_archive.py KIND OUTPUT (extra arguments after): a real archive, hostile or not.
void make_archive(const std::string& kind, const std::filesystem::path& output, const std::vector<std::string>& extra = {});

}  // namespace ibdriver::test
