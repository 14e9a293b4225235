#include "archive/detail/gzip_source.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "core/error.hpp"

#if IBDRIVER_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

namespace ibdriver::archive {

bool looks_like_gzip(std::string_view head) {
  return head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x1f && static_cast<unsigned char>(head[1]) == 0x8b;
}

#if IBDRIVER_HAVE_ISAL

bool have_isal() { return true; }

struct GzipInflateSource::State {
  inflate_state inflate{};
};

GzipInflateSource::GzipInflateSource(ByteSource& compressed, std::string name)
    : compressed_(compressed), name_(std::move(name)), state_(std::make_unique<State>()), output_(1 << 20) {
  isal_inflate_init(&state_->inflate);
  state_->inflate.crc_flag = ISAL_GZIP;
}

GzipInflateSource::~GzipInflateSource() = default;

void GzipInflateSource::take_input() {
  // Only called once pending_input_ is used up, so block_ was inflated whole: remember its last bytes
  // before the source reuses its memory.
  if (block_.size() >= kept_behind) {
    std::memcpy(behind_.data(), block_.data() + block_.size() - kept_behind, kept_behind);
    behind_size_ = kept_behind;
  } else if (!block_.empty()) {  // a short block (a sniffed prefix): shift it in
    std::size_t keep = std::min(behind_size_, kept_behind - block_.size());
    std::memmove(behind_.data(), behind_.data() + behind_size_ - keep, keep);
    std::memcpy(behind_.data() + keep, block_.data(), block_.size());
    behind_size_ = keep + block_.size();
  }
  stitched_.clear();
  block_ = compressed_.next();
  base_ = block_;
  pending_input_ = block_;
  if (block_.empty()) input_done_ = true;
}

void GzipInflateSource::resume_at(std::uint32_t left) {
  // Positions come from sizes, never from ISA-L's pointer: after a hand-back it may point before the
  // memory it was given (or before a null pointer, once the input is done). What it was given ends
  // where base_ ends, so `left` bytes from there back are still to read.
  if (left <= base_.size()) {
    pending_input_ = base_.substr(base_.size() - left);
    return;
  }
  // Handed back across base_'s start: the bytes kept from before the block (never before a stitch).
  std::size_t before = left - base_.size();
  if (!stitched_.empty() || before > behind_size_) {
    throw Error(ExitCode::operation_failed,
                fmt::format("{} is not a valid gzip stream (the inflater stopped outside its input after {} compressed bytes)",
                            name_, compressed_.consumed()),
                "the file is corrupt or truncated: fetch it again");
  }
  std::vector<char> stitched(behind_.data() + behind_size_ - before, behind_.data() + behind_size_);
  stitched.insert(stitched.end(), base_.begin(), base_.end());
  stitched_ = std::move(stitched);
  base_ = std::string_view(stitched_.data(), stitched_.size());
  pending_input_ = base_;
}

std::string_view GzipInflateSource::next() {
  auto& inflate = state_->inflate;
  while (!finished_) {
    if (pending_input_.empty() && !input_done_) take_input();
    if (inflate.block_state == ISAL_BLOCK_FINISH) {
      // One gzip member ended; another may follow (multi-member files), else the stream is done.
      while (pending_input_.empty() && !input_done_) take_input();
      if (pending_input_.empty()) {
        finished_ = true;
        break;
      }
      isal_inflate_reset(&inflate);
      inflate.crc_flag = ISAL_GZIP;
    }
    inflate.next_in = reinterpret_cast<std::uint8_t*>(const_cast<char*>(pending_input_.data()));
    inflate.avail_in = static_cast<std::uint32_t>(pending_input_.size());
    inflate.next_out = output_.data();
    inflate.avail_out = static_cast<std::uint32_t>(output_.size());
    int status = isal_inflate(&inflate);
    resume_at(inflate.avail_in);
    if (status < 0) {
      throw Error(ExitCode::operation_failed,
                  fmt::format("{} is not a valid gzip stream (ISA-L error {} after {} compressed bytes)", name_,
                              status, compressed_.consumed()),
                  "the file is corrupt or truncated: fetch it again");
    }
    std::size_t produced = output_.size() - inflate.avail_out;
    if (produced > 0) return count(std::string_view(reinterpret_cast<const char*>(output_.data()), produced));
    if (input_done_ && pending_input_.empty() && inflate.block_state != ISAL_BLOCK_FINISH) {
      throw Error(ExitCode::operation_failed, fmt::format("{} ends in the middle of its gzip stream", name_),
                  "the file is truncated: fetch it again");
    }
  }
  return {};
}

#else

bool have_isal() { return false; }

#endif

}  // namespace ibdriver::archive
