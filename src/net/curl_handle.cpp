#include "net/curl_handle.hpp"

#include <mutex>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "core/error.hpp"
#include "net/system_ca.hpp"

#ifndef IBDRIVER_PORTABLE_CA
#define IBDRIVER_PORTABLE_CA 0
#endif

namespace ibdriver::net {

void ensure_curl_global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw Error(ExitCode::operation_failed, "libcurl could not be initialised");
    }
  });
}

CurlHandle::CurlHandle() : error_buffer_(std::make_unique<std::array<char, CURL_ERROR_SIZE>>()) {
  ensure_curl_global_init();
  handle_.reset(curl_easy_init());
  if (!handle_) throw Error(ExitCode::operation_failed, "libcurl could not create a transfer handle");
  error_buffer_->fill('\0');
  set(CURLOPT_ERRORBUFFER, static_cast<void*>(error_buffer_->data()));
  set(CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
  // The portable build's static OpenSSL knows only Debian's store: the distro's bundle, unless the
  // environment names one (a caller's CURLOPT_CAINFO still overrides it). Looked up once per process.
  if constexpr (IBDRIVER_PORTABLE_CA != 0) {
    static const std::optional<std::string> bundle = system_ca_bundle();
    if (bundle) set(CURLOPT_CAINFO, *bundle);
  }
}

namespace {
void check_option(CURLcode code, CURLoption option) {
  if (code != CURLE_OK) {
    throw Error(ExitCode::operation_failed,
                fmt::format("libcurl refused option {}: {}", static_cast<int>(option), curl_easy_strerror(code)),
                "the installed libcurl may be too old or built without a needed feature");
  }
}
}  // namespace

void CurlHandle::set(CURLoption option, long value) { check_option(curl_easy_setopt(get(), option, value), option); }
void CurlHandle::set(CURLoption option, const std::string& value) {
  check_option(curl_easy_setopt(get(), option, value.c_str()), option);
}
void CurlHandle::set(CURLoption option, void* pointer) { check_option(curl_easy_setopt(get(), option, pointer), option); }
void CurlHandle::set(CURLoption option, curl_write_callback callback) {
  check_option(curl_easy_setopt(get(), option, callback), option);
}
void CurlHandle::set(CURLoption option, curl_xferinfo_callback callback) {
  check_option(curl_easy_setopt(get(), option, callback), option);
}
void CurlHandle::set(CURLoption option, curl_slist* list) { check_option(curl_easy_setopt(get(), option, list), option); }

void CurlHandle::set(CURLoption option, curl_ssl_ctx_callback callback) {
  check_option(curl_easy_setopt(get(), option, callback), option);
}

void CurlHandle::restrict_protocols(bool https_only) {
  // The *_STR options replaced the bit masks in 7.85; Debian 11 ships 7.74.
#if LIBCURL_VERSION_NUM >= 0x075500
  set(CURLOPT_PROTOCOLS_STR, std::string(https_only ? "https" : "http,https"));
  set(CURLOPT_REDIR_PROTOCOLS_STR, std::string(https_only ? "https" : "http,https"));
#else
  long mask = https_only ? CURLPROTO_HTTPS : (CURLPROTO_HTTP | CURLPROTO_HTTPS);
  set(CURLOPT_PROTOCOLS, mask);
  set(CURLOPT_REDIR_PROTOCOLS, mask);
#endif
}

CURLcode CurlHandle::perform() {
  error_buffer_->fill('\0');
  return curl_easy_perform(get());
}

std::string CurlHandle::error_message(CURLcode code) const {
  if ((*error_buffer_)[0] != '\0') return std::string(error_buffer_->data());
  return curl_easy_strerror(code);
}

long CurlHandle::response_code() const {
  long code = 0;
  curl_easy_getinfo(get(), CURLINFO_RESPONSE_CODE, &code);
  return code;
}

CurlHeaderList::CurlHeaderList(const std::vector<std::string>& headers) {
  curl_slist* list = nullptr;
  for (const auto& header : headers) {
    curl_slist* extended = curl_slist_append(list, header.c_str());
    if (extended == nullptr) {
      curl_slist_free_all(list);
      throw Error(ExitCode::operation_failed, "out of memory building HTTP headers");
    }
    list = extended;
  }
  list_.reset(list);
}

}  // namespace ibdriver::net
