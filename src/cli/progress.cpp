#include "cli/progress.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "core/log.hpp"

namespace ibdriver::cli {

namespace {
std::string megabytes(std::uint64_t bytes) { return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6); }
std::string duration(double seconds) {
  auto total = static_cast<long>(seconds);
  return fmt::format("{}:{:02}", total / 60, total % 60);
}
}  // namespace

ProgressReporter::ProgressReporter(std::FILE* stream, bool quiet)
    : stream_(stream), quiet_(quiet), terminal_(::isatty(::fileno(stream)) == 1) {}

ProgressReporter::~ProgressReporter() { finish(); }

void ProgressReporter::finish() {
  if (bar_drawn_) fmt::print(stream_, "\n");
  bar_drawn_ = false;
}

void ProgressReporter::on_source(std::string_view shown_url, std::uint64_t resume_from) {
  finish();
  started_ = Clock::now();
  start_bytes_ = resume_from;
  if (!quiet_) {
    log::info(resume_from > 0 ? fmt::format("downloading {} (resuming at {})", shown_url, megabytes(resume_from))
                              : fmt::format("downloading {}", shown_url));
  }
}

void ProgressReporter::on_progress(std::uint64_t bytes, std::optional<std::uint64_t> total) {
  if (quiet_) return;
  auto now = Clock::now();
  auto interval = terminal_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(5000);
  if (now - last_draw_ < interval) return;
  last_draw_ = now;
  double elapsed = std::chrono::duration<double>(now - started_).count();
  double rate = elapsed > 0 ? static_cast<double>(bytes - std::min(bytes, start_bytes_)) / elapsed : 0;
  std::string eta = total && rate > 0 && *total > bytes ? duration(static_cast<double>(*total - bytes) / rate) : "-:--";
  if (terminal_) {
    constexpr int width = 30;
    int filled = total && *total > 0 ? static_cast<int>(width * static_cast<double>(bytes) / static_cast<double>(*total)) : 0;
    fmt::print(stream_, "\r[{:<{}}] {:>10}{} {:>8}/s ETA {}  ", std::string(static_cast<std::size_t>(std::min(filled, width)), '#'),
               width, megabytes(bytes), total ? " of " + megabytes(*total) : std::string(), megabytes(static_cast<std::uint64_t>(rate)), eta);
    std::fflush(stream_);
    bar_drawn_ = true;
  } else {
    log::info(fmt::format("downloaded {}{} at {}/s, ETA {}", megabytes(bytes), total ? " of " + megabytes(*total) : std::string(),
                          megabytes(static_cast<std::uint64_t>(rate)), eta));
  }
}

void ProgressReporter::on_retry(std::string_view /*reason*/, int /*attempt*/, std::chrono::milliseconds /*wait*/) {
  finish();  // the downloader logs the reason itself
}

}  // namespace ibdriver::cli
