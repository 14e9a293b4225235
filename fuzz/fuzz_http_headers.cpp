// Any bytes as HTTP response header lines (a hostile server or proxy): parsed or ignored, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/text.hpp"
#include "fetch/response_headers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ibdriver::fetch::ResponseHeaders headers;
  for (auto line : ibdriver::text::split(text, '\n')) ibdriver::fetch::parse_header_line(line, headers);
  return 0;
}
