#include "fetch/downloader.hpp"

#include <exception>
#include <thread>

#include <fmt/format.h>

#include "core/cancel.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "core/version.hpp"
#include "fetch/response_headers.hpp"
#include "fetch/retry_policy.hpp"
#include "net/curl_handle.hpp"
#include "net/extra_ca.hpp"

namespace ibdriver::fetch {

namespace {

using Clock = std::chrono::steady_clock;

// What one attempt shares with libcurl's callbacks.
struct Attempt {
  PartFile* part = nullptr;
  const DownloadRequest* request = nullptr;
  DownloadObserver* observer = nullptr;
  ResponseHeaders headers;
  bool body_started = false;
  bool writing = false;  // the body is the file (200/206), not an error page
  std::uint64_t discarded = 0;
  std::string abort_reason;        // a callback stopped the transfer on purpose, and why
  bool restart_from_zero = false;  // the server resumed elsewhere than asked
  bool wrong_file = false;         // size disagrees with the catalog: this source is wrong
  bool stalled = false;
  bool out_of_time = false;
  std::exception_ptr failure;  // an exception cannot cross libcurl's C frames
  Clock::time_point last_byte;
  Clock::time_point deadline;
  std::chrono::milliseconds stall_timeout{0};
  curl_off_t last_now = -1;
};

size_t on_header(char* data, size_t size, size_t count, void* context) {
  parse_header_line(std::string_view(data, size * count), static_cast<Attempt*>(context)->headers);
  return size * count;
}

// Decides, at the first byte of the final response's body, what the body is.
bool start_body(Attempt& attempt) {
  attempt.body_started = true;
  const auto& headers = attempt.headers;
  auto& part = *attempt.part;
  if (headers.status == 206) {
    if (!headers.range_start || *headers.range_start != part.size()) {
      attempt.restart_from_zero = true;
      attempt.abort_reason = fmt::format("the server resumed at byte {} instead of {}",
                                         headers.range_start ? std::to_string(*headers.range_start) : "?", part.size());
      return false;
    }
    attempt.writing = true;
  } else if (headers.status == 200) {
    if (part.size() > 0) {
      log::info(fmt::format("the server ignored the Range request: restarting from byte 0 (had {})", part.size()));
      part.truncate();
    }
    attempt.writing = true;
  } else {
    attempt.writing = false;  // an error page: read and dropped
    return true;
  }
  std::optional<std::uint64_t> total = headers.status == 206 ? headers.range_total : headers.content_length;
  const auto& expected = attempt.request->expected_size;
  if (expected && total && *total != *expected) {
    attempt.wrong_file = true;
    attempt.abort_reason = fmt::format("the server's file has {} bytes, the catalog says {}", *total, *expected);
    return false;
  }
  return true;
}

size_t on_body(char* data, size_t size, size_t count, void* context) {
  auto* attempt = static_cast<Attempt*>(context);
  const size_t bytes = size * count;
  try {
    if (!attempt->body_started && !start_body(*attempt)) return 0;
    if (!attempt->writing) {
      attempt->discarded += bytes;
      return attempt->discarded > 1024 * 1024 ? 0 : bytes;
    }
    const auto& expected = attempt->request->expected_size;
    if (expected && attempt->part->size() + bytes > *expected) {
      attempt->wrong_file = true;
      attempt->abort_reason = fmt::format("the server sent more than the {} bytes the catalog gives", *expected);
      return 0;
    }
    const auto offset = attempt->part->size();
    attempt->part->append(data, bytes);
    attempt->observer->on_data(offset, data, bytes);
    attempt->last_byte = Clock::now();
  } catch (...) {
    attempt->failure = std::current_exception();
    return 0;
  }
  return bytes;
}

int on_progress(void* context, curl_off_t /*dltotal*/, curl_off_t dlnow, curl_off_t /*ultotal*/, curl_off_t /*ulnow*/) {
  auto* attempt = static_cast<Attempt*>(context);
  auto now = Clock::now();
  if (dlnow != attempt->last_now) {
    attempt->last_now = dlnow;
    attempt->last_byte = now;
  }
  if (now - attempt->last_byte > attempt->stall_timeout) {
    attempt->stalled = true;
    return 1;
  }
  if (now > attempt->deadline) {
    attempt->out_of_time = true;
    return 1;
  }
  if (cancel_requested()) {
    try {
      throw_if_cancelled("downloading");
    } catch (...) {
      attempt->failure = std::current_exception();
    }
    return 1;
  }
  if (attempt->writing) {
    try {
      const auto& headers = attempt->headers;
      auto total = attempt->request->expected_size;
      if (!total) total = headers.status == 206 ? headers.range_total : headers.content_length;
      attempt->observer->on_progress(attempt->part->size(), total);
    } catch (...) {
      attempt->failure = std::current_exception();
      return 1;
    }
  }
  return 0;
}

// One source's failure, for the final message.
struct SourceFailure {
  std::string url;
  std::string reason;
  std::string hint;
};

std::string describe_curl_failure(CURLcode code, const net::CurlHandle& curl, const std::string& url) {
  if (code == CURLE_UNSUPPORTED_PROTOCOL && url.rfind("https://", 0) == 0) {
    return "a redirect tried to leave https (refused)";
  }
  if (code == CURLE_TOO_MANY_REDIRECTS) return "too many redirects (a redirect loop?)";
  return curl.error_message(code);
}

std::string hint_for(CURLcode code, long status) {
  switch (code) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
      return "the server's certificate is not trusted for this host name: for a mirror with a private CA, trust "
             "that CA's bundle; never turn verification off";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return "check the network, DNS and proxy (https_proxy); offline machines install from a bundle exported "
             "by `ibdriver fetch` on a connected one";
    default:
      break;
  }
  if (status == 403) return "the URL refuses access: a SAS token may have expired";
  if (status == 404) return "the file is not at that URL: check the mirror's contents or the catalog row";
  return {};
}

class Transfer {
 public:
  Transfer(const DownloadRequest& request, PartFile& part, const TransferSettings& settings, DownloadObserver& observer)
      : request_(request),
        part_(part),
        settings_(settings),
        observer_(observer),
        deadline_(Clock::now() + settings.overall_timeout) {}

  DownloadOutcome run() {
    outcome_.resumed = part_.size() > 0;
    for (const auto& url : request_.urls) {
      const int attempts_before = outcome_.attempts;
      outcome_.busy_waited = std::chrono::milliseconds{0};  // the delivering source's own, not the others'
      if (try_source(url)) {
        outcome_.source_requests = outcome_.attempts - attempts_before;
        return outcome_;
      }
    }
    std::string reasons;
    std::string hint;
    Remedies remedies;
    for (const auto& failure : failures_) {
      if (failure.hint.find("private CA") != std::string::npos && remedies.empty()) remedies.push_back({Knob::ca_bundle, {}});
      reasons += fmt::format("\n  {}: {}", failure.url, failure.reason);
      if (hint.empty()) hint = failure.hint;
    }
    throw Error(ExitCode::operation_failed,
                fmt::format("cannot download a file with SHA-256 {} from {} source(s):{}", request_.sha256,
                            request_.urls.size(), reasons),
                hint.empty() ? std::string("run again later: the bytes received so far are kept and resumed") : hint,
                remedies);
  }

 private:
  // True when the part file now holds the verified bytes.
  bool try_source(const std::string& url) {
    const std::string shown = text::redact_url(url);
    Backoff backoff(settings_.first_backoff, settings_.max_backoff);
    bool restarted_after_mismatch = false;
    observer_.on_source(shown, part_.size());
    int failed_attempts = 0;  // a busy answer is the server's schedule, not a failure: it waits on busy_waited
    std::chrono::milliseconds busy_waited{0};
    // One handle for all the attempts at a source: after an answer that ended cleanly (a 429 page) the
    // next attempt reuses the connection, so neither side pays a TLS handshake and a CA store load again.
    net::CurlHandle curl;
    for (int request_number = 1;; ++request_number) {
      ++outcome_.attempts;
      if (part_.size() > 0) outcome_.resumed = true;
      Attempt attempt;
      auto code = perform(curl, url, attempt);
      if (attempt.failure) std::rethrow_exception(attempt.failure);
      if (attempt.out_of_time) {
        throw Error(ExitCode::operation_failed,
                    fmt::format("downloading {} took longer than the overall limit of {} s ({} bytes so far, kept)", shown,
                                settings_.overall_timeout.count() / 1000, part_.size()),
                    "raise the overall download time limit, or run again to resume");
      }
      std::string reason;
      if (attempt.wrong_file) {
        part_.truncate();
        failures_.push_back({shown, attempt.abort_reason, "the mirror or URL serves a different file than the catalog row"});
        return false;
      }
      if (attempt.restart_from_zero) {
        part_.truncate();
        reason = attempt.abort_reason;
      } else if (attempt.headers.status == 416) {
        if (request_.expected_size && part_.size() == *request_.expected_size) {
          auto check = verify(shown, restarted_after_mismatch, reason);
          if (check != Check::retry_from_zero) return check == Check::verified;
        } else {
          part_.truncate();
          reason = "the server cannot resume from where the earlier bytes end (416): starting over";
        }
      } else {
        switch (classify_attempt(code, attempt.headers.status, attempt.stalled)) {
          case AttemptVerdict::done: {
            auto check = verify(shown, restarted_after_mismatch, reason);
            if (check != Check::retry_from_zero) return check == Check::verified;
            break;
          }
          case AttemptVerdict::retry:
            reason = attempt.stalled ? fmt::format("no data for {} s", settings_.stall_timeout.count() / 1000)
                     : attempt.headers.status >= 400 ? fmt::format("HTTP {}", attempt.headers.status)
                                                     : describe_curl_failure(code, curl, url);
            break;
          case AttemptVerdict::next_source:
            failures_.push_back({shown,
                                 code == CURLE_OK ? fmt::format("HTTP {}", attempt.headers.status)
                                                  : describe_curl_failure(code, curl, url),
                                 hint_for(code, attempt.headers.status)});
            return false;
        }
      }
      const bool busy = !attempt.stalled && is_busy_answer(attempt.headers.status, attempt.headers.retry_after.has_value());
      if (!busy && ++failed_attempts == settings_.attempts_per_source) {
        failures_.push_back({shown, fmt::format("{} (gave up after {} attempts)", reason, failed_attempts), {}});
        return false;
      }
      auto wait = backoff.next(attempt.headers.retry_after);
      if (Clock::now() + wait > deadline_) {
        failures_.push_back({shown, fmt::format("{}; no time left for another attempt", reason), {}});
        return false;
      }
      if (busy && busy_waited + wait > settings_.busy_patience) {
        failures_.push_back({shown, fmt::format("{}: still busy after {} requests and {} s of waiting", reason,
                                                request_number, busy_waited.count() / 1000),
                             "the mirror turns requests away: raise its limits, or stagger the machines"});
        return false;
      }
      if (busy) {
        busy_waited += wait;
        outcome_.busy_waited += wait;
        log::info(fmt::format("{}: {} (busy: not counted as a failed attempt); asking again in {:.1f} s (resuming at byte {})",
                              shown, reason, static_cast<double>(wait.count()) / 1000.0, part_.size()));
      } else {
        log::info(fmt::format("{}: {}; attempt {} of {} in {:.1f} s (resuming at byte {})", shown, reason,
                              failed_attempts + 1, settings_.attempts_per_source, static_cast<double>(wait.count()) / 1000.0,
                              part_.size()));
      }
      observer_.on_retry(reason, request_number + 1, wait);
      std::this_thread::sleep_for(wait);
    }
  }

  enum class Check { verified, retry_from_zero, rejected };

  // Checks the finished bytes. A mismatch after a resume is retried once from zero (the splice may be
  // at fault); otherwise the bytes are dropped and the source is recorded as lying.
  Check verify(const std::string& shown, bool& restarted, std::string& reason) {
    auto actual = part_.finish_hash();
    if (actual == request_.sha256) {
      outcome_.sha256 = actual;
      outcome_.bytes = part_.size();
      outcome_.url = shown;
      return Check::verified;
    }
    bool was_resumed = outcome_.resumed;
    part_.truncate();
    if (was_resumed && !restarted) {
      restarted = true;
      reason = fmt::format("SHA-256 mismatch after resuming (got {}): downloading again from byte 0", actual);
      return Check::retry_from_zero;
    }
    failures_.push_back({shown, fmt::format("SHA-256 mismatch: expected {}, got {} (the bytes were deleted)",
                                            request_.sha256, actual),
                         "the file at this URL is not the release the catalog describes; use another mirror or URL"});
    return Check::rejected;
  }

  CURLcode perform(net::CurlHandle& curl, const std::string& url, Attempt& attempt) {
    attempt.part = &part_;
    attempt.request = &request_;
    attempt.observer = &observer_;
    attempt.last_byte = Clock::now();
    attempt.deadline = deadline_;
    attempt.stall_timeout = settings_.stall_timeout;
    const bool https = url.rfind("https://", 0) == 0;
    curl.set(CURLOPT_URL, url);
    curl.restrict_protocols(https);
    curl.set(CURLOPT_FOLLOWLOCATION, 1L);
    curl.set(CURLOPT_MAXREDIRS, settings_.max_redirects);
    curl.set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings_.connect_timeout.count()));
    curl.set(CURLOPT_SSL_VERIFYPEER, 1L);
    curl.set(CURLOPT_SSL_VERIFYHOST, 2L);
    curl.set(CURLOPT_BUFFERSIZE, 512L * 1024L);
    curl.set(CURLOPT_TCP_KEEPALIVE, 1L);
    curl.set(CURLOPT_USERAGENT, fmt::format("ibdriver/{}", project_version()));
    curl.set(CURLOPT_HEADERFUNCTION, &on_header);
    curl.set(CURLOPT_HEADERDATA, static_cast<void*>(&attempt));
    curl.set(CURLOPT_WRITEFUNCTION, &on_body);
    curl.set(CURLOPT_WRITEDATA, static_cast<void*>(&attempt));
    curl.set(CURLOPT_NOPROGRESS, 0L);
    curl.set(CURLOPT_XFERINFOFUNCTION, &on_progress);
    curl.set(CURLOPT_XFERINFODATA, static_cast<void*>(&attempt));
    if (part_.size() > 0) {
      curl.set(CURLOPT_RANGE, fmt::format("{}-", part_.size()));
    } else {
      curl.set(CURLOPT_RANGE, static_cast<void*>(nullptr));  // the handle may carry an earlier attempt's
    }
    if (settings_.extra_ca) net::trust_extra_ca(curl, *settings_.extra_ca);
    if (settings_.proxy) curl.set(CURLOPT_PROXY, *settings_.proxy);
    log::debug(fmt::format("GET {}{}", text::redact_url(url),
                           part_.size() > 0 ? fmt::format(" from byte {}", part_.size()) : std::string()));
    return curl.perform();
  }

  const DownloadRequest& request_;
  PartFile& part_;
  const TransferSettings& settings_;
  DownloadObserver& observer_;
  Clock::time_point deadline_;
  DownloadOutcome outcome_;
  std::vector<SourceFailure> failures_;
};

}  // namespace

std::string mirror_url(std::string_view base, std::string_view file_name) {
  auto query_start = base.find('?');
  auto path = base.substr(0, query_start);
  auto query = query_start == std::string_view::npos ? std::string_view() : base.substr(query_start);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  return fmt::format("{}/{}{}", path, file_name, query);
}

DownloadOutcome download(const DownloadRequest& request, PartFile& part, const TransferSettings& settings,
                         DownloadObserver& observer) {
  if (request.urls.empty()) throw Error(ExitCode::usage, "no URL to download from");
  return Transfer(request, part, settings, observer).run();
}

}  // namespace ibdriver::fetch
