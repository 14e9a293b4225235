#pragma once
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace ibdriver {

// Reads a whole (small) file, refusing more than max_bytes: a sysfs attribute or a config file that
// turns out to be huge is an error, never an allocation the size of the disk. Throws FileError.
std::string read_file(const std::filesystem::path& file, std::size_t max_bytes);

// As read_file, but a missing file is nullopt instead of an error.
std::optional<std::string> read_file_if_exists(const std::filesystem::path& file, std::size_t max_bytes);

// Writes through a temporary file in the same folder and renames it over the target, so a reader
// sees the old or the new content, never half of one.
void write_file_atomically(const std::filesystem::path& file, std::string_view content, unsigned mode = 0644);

}  // namespace ibdriver
