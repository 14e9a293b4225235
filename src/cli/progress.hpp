#pragma once
#include <chrono>
#include <cstdio>
#include <optional>

#include "fetch/downloader.hpp"

namespace ibdriver::cli {

// Download progress for a person: a bar redrawn in place on a terminal, otherwise a log line every
// few seconds (CI logs, the extension's agent). Silent with --quiet.
class ProgressReporter : public fetch::DownloadObserver {
 public:
  ProgressReporter(std::FILE* stream, bool quiet);
  ~ProgressReporter() override;
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  void on_source(std::string_view shown_url, std::uint64_t resume_from) override;
  void on_progress(std::uint64_t bytes, std::optional<std::uint64_t> total) override;
  void on_retry(std::string_view reason, int attempt, std::chrono::milliseconds wait) override;
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  std::FILE* stream_;
  bool quiet_;
  bool terminal_;
  bool bar_drawn_ = false;
  Clock::time_point started_ = Clock::now();
  Clock::time_point last_draw_{};
  std::uint64_t start_bytes_ = 0;
};

}  // namespace ibdriver::cli
