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
  void take_input();  // the next compressed block into input_ (input_done_ at its end)
  struct State;
  ByteSource& compressed_;
  std::string name_;
  std::unique_ptr<State> state_;
  std::vector<unsigned char> output_;
  // The compressed bytes not yet inflated, in input_ after the previous block's last bytes: at a gzip
  // member's end ISA-L hands back the bytes its bit buffer had read ahead (at most 8), which may lie
  // in the block before (found by fuzz_extract: a view of the source's block underflowed).
  std::vector<char> input_;
  std::string_view pending_input_;
  bool input_done_ = false;
  bool finished_ = false;
};

// True when this build inflates gzip with ISA-L.
bool have_isal();

}  // namespace ibdriver::archive
