#pragma once
#include <memory>
#include <string>
#include <vector>

#include "archive/byte_source.hpp"

namespace ibdriver::archive {

// Whether these first bytes start a gzip stream (1f 8b).
bool looks_like_gzip(std::string_view head);

// Inflates a gzip stream (all members of a multi-member file) from `compressed` with ISA-L, several
// times faster than zlib on the same core. The gzip CRC and length are checked; a corrupt stream is
// Error (operation_failed) naming `name`. Built without ISA-L (IBDRIVER_HAVE_ISAL off), this type
// is absent and libarchive's own zlib-based filter is used instead.
class GzipInflateSource : public ByteSource {
 public:
  GzipInflateSource(ByteSource& compressed, std::string name);
  ~GzipInflateSource() override;
  GzipInflateSource(const GzipInflateSource&) = delete;
  GzipInflateSource& operator=(const GzipInflateSource&) = delete;
  std::string_view next() override;

 private:
  struct State;
  ByteSource& compressed_;
  std::string name_;
  std::unique_ptr<State> state_;
  std::vector<unsigned char> output_;
  std::string_view pending_input_;
  bool input_done_ = false;
  bool finished_ = false;
};

// True when this build inflates gzip with ISA-L.
bool have_isal();

}  // namespace ibdriver::archive
