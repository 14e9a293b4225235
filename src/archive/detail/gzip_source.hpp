#pragma once
#include <array>
#include <cstdint>
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
  void take_input();  // the next compressed block, in place (input_done_ at its end)
  // Where ISA-L stopped, from the bytes it left unread; when it handed back read-ahead bytes from before
  // the current block, those bytes and the block are stitched together first.
  void resume_at(std::uint32_t left);
  struct State;
  ByteSource& compressed_;
  std::string_view block_;  // the source's current block: inflated in place, not copied
  std::string name_;
  std::unique_ptr<State> state_;
  std::vector<unsigned char> output_;
  // At a gzip member's end ISA-L hands back the bytes its bit buffer had read ahead (at most 8), which
  // may lie in the block before (found by fuzz_extract: a view of the source's block underflowed).
  // The last bytes before block_ are kept for that; stitched_ holds them and the block when it happens.
  static constexpr std::size_t kept_behind = 16;  // more than ISA-L's 64-bit read-ahead
  std::array<char, kept_behind> behind_{};
  std::size_t behind_size_ = 0;
  std::vector<char> stitched_;
  std::string_view base_;           // what ISA-L reads from: block_, or stitched_
  std::string_view pending_input_;  // the end of base_ not yet inflated
  bool input_done_ = false;
  bool finished_ = false;
};

// True when this build inflates gzip with ISA-L.
bool have_isal();

}  // namespace ibdriver::archive
