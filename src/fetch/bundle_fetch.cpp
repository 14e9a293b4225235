#include "fetch/bundle_fetch.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "core/unique_fd.hpp"
#include "fetch/part_file.hpp"

namespace ibdriver::fetch {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void check_scheme(const std::string& url, bool allow_plain_http) {
  if (url.rfind("https://", 0) == 0) return;
  if (url.rfind("http://", 0) == 0) {
    if (!allow_plain_http) {
      throw Error(ExitCode::usage, fmt::format("refusing plain http: {}", text::redact_url(url)),
                  "use https, or pin the bundle's SHA-256 so its bytes are verified", {{Knob::bundle_sha256, {}}});
    }
    log::warning(fmt::format("{} is plain http: only the pinned SHA-256 protects it", text::redact_url(url)));
    return;
  }
  throw Error(ExitCode::usage, fmt::format("unsupported URL {}", text::redact_url(url)), "use an https:// URL");
}
}  // namespace

FetchResult fetch_bundle(const BundleSource& source, const BundleCache& cache, const TransferSettings& settings,
                         DownloadObserver& observer) {
  auto started = Clock::now();
  FetchResult result;
  result.sha256 = source.sha256;
  if (auto cached = cache.verified_entry(source.sha256)) {
    result.path = *cached;
    result.bytes = fs::file_size(*cached);
    result.from_cache = true;
    result.url = "cache";
    result.seconds = seconds_since(started);
    log::info(fmt::format("{} is in the cache ({}), verified", source.file_name, cached->string()));
    return result;
  }
  DownloadRequest request;
  for (const auto& mirror : source.mirrors) request.urls.push_back(mirror_url(mirror, source.file_name));
  request.urls.push_back(source.url);
  for (const auto& url : request.urls) check_scheme(url, source.allow_plain_http);
  request.sha256 = source.sha256;
  request.expected_size = source.size;

  PartFile part(cache.part_path(source.sha256));
  if (part.size() > 0) log::info(fmt::format("resuming {} at byte {}", source.file_name, part.size()));
  auto outcome = download(request, part, settings, observer);
  part.close();
  result.path = cache.promote(part.path(), source.sha256);
  result.bytes = outcome.bytes;
  result.resumed = outcome.resumed;
  result.attempts = outcome.attempts;
  result.source_requests = outcome.source_requests;
  result.busy_waited = outcome.busy_waited;
  result.url = outcome.url;
  result.seconds = seconds_since(started);
  return result;
}

std::string describe_source(const FetchResult& result) {
  if (result.from_cache) return "from the cache";
  if (result.attempts == 0) return fmt::format("from the offline {}", result.url);  // url is "bundle FILE"
  const int here = result.source_requests;
  auto text = fmt::format("from {} in {} request{}", result.url, here, here == 1 ? "" : "s");
  if (result.resumed) text += ", resumed";
  if (result.busy_waited.count() > 0) {
    text += fmt::format(", {:.1f} s waiting on a busy server", static_cast<double>(result.busy_waited.count()) / 1000.0);
  }
  if (const int elsewhere = result.attempts - here; elsewhere > 0) {
    text += fmt::format("; {} request{} to other sources first", elsewhere, elsewhere == 1 ? "" : "s");
  }
  return text;
}

FetchResult import_bundle(const fs::path& file, const std::string& sha256, const BundleCache& cache) {
  auto started = Clock::now();
  FetchResult result;
  result.sha256 = sha256;
  result.url = fmt::format("bundle {}", file.string());
  if (auto cached = cache.verified_entry(sha256)) {
    result.path = *cached;
    result.bytes = fs::file_size(*cached);
    result.from_cache = true;
    result.seconds = seconds_since(started);
    return result;
  }
  UniqueFd in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) {
    throw FileError(ExitCode::operation_failed, "cannot open the bundle", file, errno,
                    "an offline bundle is the file `ibdriver fetch` exported");
  }
  PartFile part(cache.part_path(sha256));
  part.truncate();
  std::vector<char> buffer(1 << 20);
  while (true) {
    ssize_t got = ::read(in.get(), buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      throw FileError(ExitCode::operation_failed, "cannot read the bundle", file, errno);
    }
    if (got == 0) break;
    part.append(buffer.data(), static_cast<std::size_t>(got));
  }
  result.bytes = part.size();
  auto actual = part.finish_hash();
  if (actual != sha256) {
    part.remove();
    throw Error(ExitCode::operation_failed,
                fmt::format("the bundle {} has SHA-256 {}, expected {}", file.string(), actual, sha256),
                "the file is damaged or not the release expected: copy it again");
  }
  part.close();
  result.path = cache.promote(part.path(), sha256);
  result.seconds = seconds_since(started);
  return result;
}

fs::path export_bundle(const FetchResult& fetched, const std::string& file_name, const fs::path& folder) {
  std::error_code error;
  fs::create_directories(folder, error);
  if (error) throw FileError(ExitCode::operation_failed, "cannot create", folder, error.value());
  auto target = folder / file_name;
  auto temporary = folder / (file_name + ".tmp");
  fs::remove(temporary, error);
  fs::create_hard_link(fetched.path, temporary, error);
  if (error) {
    fs::copy_file(fetched.path, temporary, fs::copy_options::overwrite_existing, error);
    if (error) throw FileError(ExitCode::operation_failed, "cannot copy the bundle to", temporary, error.value());
  }
  fs::rename(temporary, target, error);
  if (error) throw FileError(ExitCode::operation_failed, "cannot write", target, error.value());
  write_file_atomically(folder / (file_name + ".sha256"), fmt::format("{}  {}\n", fetched.sha256, file_name));
  return target;
}

}  // namespace ibdriver::fetch
