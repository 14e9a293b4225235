#pragma once
#include <curl/curl.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace ibdriver::net {

// curl_global_init exactly once per process, before the first handle; thread-safe.
void ensure_curl_global_init();

// The one owner of a CURL easy handle. Every setter throws on a non-OK code, so an option that
// libcurl refused is never silently ignored; the error buffer is wired in at construction.
class CurlHandle {
 public:
  CurlHandle();
  CurlHandle(CurlHandle&&) noexcept = default;
  CurlHandle& operator=(CurlHandle&&) noexcept = default;
  CurlHandle(const CurlHandle&) = delete;
  CurlHandle& operator=(const CurlHandle&) = delete;
  ~CurlHandle() = default;

  void set(CURLoption option, long value);
  void set(CURLoption option, const std::string& value);
  void set(CURLoption option, void* pointer);
  void set(CURLoption option, curl_write_callback callback);
  void set(CURLoption option, curl_xferinfo_callback callback);
  void set(CURLoption option, curl_slist* list);
  void set(CURLoption option, curl_ssl_ctx_callback callback);

  // Runs the transfer; returns libcurl's code (the caller decides what is worth a retry).
  CURLcode perform();
  // libcurl's detailed message for the last failure (error buffer, else curl_easy_strerror).
  std::string error_message(CURLcode code) const;
  long response_code() const;
  // Refuses redirects that leave https (and any redirect to a protocol other than http/https).
  void restrict_protocols(bool https_only);
  CURL* get() const noexcept { return handle_.get(); }

 private:
  struct Deleter {
    void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
  };
  std::unique_ptr<CURL, Deleter> handle_;
  std::unique_ptr<std::array<char, CURL_ERROR_SIZE>> error_buffer_;  // stable address across moves
};

// The one owner of a curl_slist (request headers).
class CurlHeaderList {
 public:
  CurlHeaderList() = default;
  explicit CurlHeaderList(const std::vector<std::string>& headers);
  curl_slist* get() const noexcept { return list_.get(); }

 private:
  struct Deleter {
    void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
  };
  std::unique_ptr<curl_slist, Deleter> list_;
};

}  // namespace ibdriver::net
