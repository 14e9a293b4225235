#include "net/small_get.hpp"

#include "net/curl_handle.hpp"
#include "net/extra_ca.hpp"

namespace ibdriver::net {
namespace {

struct BodySink {
  std::string* body;
  std::size_t limit;
  bool too_large = false;
};

size_t append_body(char* data, size_t size, size_t count, void* context) {
  auto* sink = static_cast<BodySink*>(context);
  const size_t bytes = size * count;
  if (sink->body->size() + bytes > sink->limit) {
    sink->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  sink->body->append(data, bytes);
  return bytes;
}

}  // namespace

SmallGetResult small_get(const SmallGetRequest& request) {
  SmallGetResult result;
  CurlHandle curl;
  CurlHeaderList headers(request.headers);
  BodySink sink{&result.body, request.max_body_bytes};

  curl.restrict_protocols(request.https_only);
  curl.set(CURLOPT_URL, request.url);
  curl.set(CURLOPT_HTTPGET, 1L);
  curl.set(CURLOPT_FOLLOWLOCATION, request.max_redirects > 0 ? 1L : 0L);
  if (request.max_redirects > 0) curl.set(CURLOPT_MAXREDIRS, request.max_redirects);
  curl.set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
  curl.set(CURLOPT_TIMEOUT_MS, static_cast<long>(request.total_timeout.count()));
  curl.set(CURLOPT_HTTPHEADER, headers.get());
  curl.set(CURLOPT_WRITEFUNCTION, &append_body);
  curl.set(CURLOPT_WRITEDATA, static_cast<void*>(&sink));
  if (!request.use_proxy) {
    // An empty proxy string disables proxies, including the ones from the environment.
    curl.set(CURLOPT_PROXY, std::string());
    curl.set(CURLOPT_NOPROXY, std::string("*"));
  }
  if (request.ca_bundle) curl.set(CURLOPT_CAINFO, *request.ca_bundle);
  if (request.extra_ca) trust_extra_ca(curl, *request.extra_ca);

  result.curl_code = curl.perform();
  result.http_status = curl.response_code();
  result.body_too_large = sink.too_large;
  if (result.curl_code != CURLE_OK) result.curl_message = curl.error_message(result.curl_code);
  return result;
}

bool is_retryable(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

bool is_retryable_status(long http_status) { return http_status == 429 || http_status == 408 || http_status >= 500; }

}  // namespace ibdriver::net
