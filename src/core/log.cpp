#include "core/log.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "core/secrets.hpp"

namespace ibdriver::log {
namespace {

struct FileCloser {
  void operator()(std::FILE* file) const noexcept { std::fclose(file); }
};

struct LogState {
  std::mutex mutex;
  Level stderr_level = Level::info;
  std::unique_ptr<std::FILE, FileCloser> file;
  std::unique_ptr<std::FILE, FileCloser> second_file;
};

LogState& state() {
  static LogState instance;
  return instance;
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warning: return "warning";
    case Level::error: return "error";
  }
  return "info";
}

std::string utc_timestamp() {
  std::time_t now = std::time(nullptr);
  std::tm parts{};
  ::gmtime_r(&now, &parts);
  std::array<char, 32> text{};
  std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text.data();
}

}  // namespace

void set_stderr_level(Level level) {
  std::lock_guard lock(state().mutex);
  state().stderr_level = level;
}

namespace {

// Opens `file` for appending into one of the log's file slots.
bool open_into(const std::filesystem::path& file, std::unique_ptr<std::FILE, FileCloser>& slot) {
  std::FILE* opened = std::fopen(file.c_str(), "ae");
  if (opened == nullptr) {
    int error_number = errno;
    write(Level::debug, fmt::format("not logging to {}: {}", file.string(), std::strerror(error_number)));
    return false;
  }
  std::lock_guard lock(state().mutex);
  slot.reset(opened);
  return true;
}

}  // namespace

bool open_log_file(const std::filesystem::path& file) { return open_into(file, state().file); }

bool open_second_log_file(const std::filesystem::path& file) { return open_into(file, state().second_file); }

void close_log_file() {
  std::lock_guard lock(state().mutex);
  state().file.reset();
  state().second_file.reset();
}

void write(Level level, std::string_view raw_message) {
  const std::string message = mask_secrets(raw_message);
  std::lock_guard lock(state().mutex);
  if (level >= state().stderr_level) {
    if (level == Level::info) {
      fmt::print(stderr, "{}\n", message);
    } else {
      fmt::print(stderr, "{}: {}\n", level_name(level), message);
    }
  }
  for (auto* file : {state().file.get(), state().second_file.get()}) {
    if (file == nullptr) continue;
    fmt::print(file, "{} {} {}\n", utc_timestamp(), level_name(level), message);
    std::fflush(file);
  }
}

}  // namespace ibdriver::log
