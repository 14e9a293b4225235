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

namespace {
constexpr std::size_t kept_behind = 16;  // more than ISA-L's 64-bit read-ahead
}

void GzipInflateSource::take_input() {
  auto block = compressed_.next();
  if (block.empty()) {
    input_done_ = true;
    return;
  }
  // Only called once pending_input_ is used up: keep the tail of what was inflated before it.
  // The buffer is reused: the tail moves to the front, so a block costs no allocation once it is large enough.
  std::size_t keep = std::min(input_.size(), kept_behind);
  input_.erase(input_.begin(), input_.end() - static_cast<std::ptrdiff_t>(keep));
  input_.insert(input_.end(), block.begin(), block.end());
  pending_input_ = std::string_view(input_.data() + keep, block.size());
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
    // Where ISA-L stopped, which a handed-back read-ahead may put before this block (into the kept tail).
    const char* stopped = reinterpret_cast<const char*>(inflate.next_in);
    if (stopped < input_.data() || stopped + inflate.avail_in != pending_input_.data() + pending_input_.size()) {
      throw Error(ExitCode::operation_failed,
                  fmt::format("{} is not a valid gzip stream (the inflater stopped outside its input after {} compressed bytes)",
                              name_, compressed_.consumed()),
                  "the file is corrupt or truncated: fetch it again");
    }
    pending_input_ = std::string_view(stopped, inflate.avail_in);
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
