#pragma once
#include <filesystem>
#include <string_view>

namespace ibdriver::log {

enum class Level { debug = 0, info = 1, warning = 2, error = 3 };

// Human lines on stderr at or above the threshold (-v lowers it to debug, -q raises it to error).
void set_stderr_level(Level level);
// Every line at debug and above also goes to this file, with a UTC timestamp. Returns false (and
// logs a warning to stderr) when the file cannot be opened; ibdriver then runs without a log file.
bool open_log_file(const std::filesystem::path& file);
// A second file getting the same lines (the extension logs to the upstream path and the handler's
// logFolder).
bool open_second_log_file(const std::filesystem::path& file);
void close_log_file();

// Registered secrets (core/secrets.hpp) are masked in every line.
void write(Level level, std::string_view message);
inline void debug(std::string_view message) { write(Level::debug, message); }
inline void info(std::string_view message) { write(Level::info, message); }
inline void warning(std::string_view message) { write(Level::warning, message); }
inline void error(std::string_view message) { write(Level::error, message); }

}  // namespace ibdriver::log
