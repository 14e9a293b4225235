#include "archive/byte_queue.hpp"

#include "core/error.hpp"

namespace ibdriver::archive {

ByteQueue::ByteQueue(std::size_t max_blocks, std::size_t block_size) : max_blocks_(max_blocks), block_size_(block_size) {
  filling_.reserve(block_size_);
  blocks_out_ = 1;
}

bool ByteQueue::hand_over(std::unique_lock<std::mutex>& lock) {
  // Wait for a block to fill next: a recycled one, or a new one while under the limit.
  changed_.wait(lock, [&] { return consumer_gone_ || !spare_.empty() || blocks_out_ < max_blocks_; });
  if (consumer_gone_) return false;
  ready_.push_back(std::move(filling_));
  if (!spare_.empty()) {
    filling_ = std::move(spare_.back());
    spare_.pop_back();
  } else {
    filling_ = {};
    filling_.reserve(block_size_);
    ++blocks_out_;
  }
  filling_.clear();
  changed_.notify_all();
  return true;
}

bool ByteQueue::push(const char* data, std::size_t size) {
  while (size > 0) {
    std::size_t take = std::min(size, block_size_ - filling_.size());
    filling_.insert(filling_.end(), data, data + take);  // the producer alone touches filling_
    data += take;
    size -= take;
    if (filling_.size() == block_size_) {
      std::unique_lock lock(mutex_);
      if (!hand_over(lock)) return false;
    }
  }
  std::lock_guard lock(mutex_);
  return !consumer_gone_;
}

void ByteQueue::close() {
  std::unique_lock lock(mutex_);
  if (!filling_.empty()) hand_over(lock);
  closed_ = true;
  changed_.notify_all();
}

void ByteQueue::abort(const std::string& reason) {
  std::lock_guard lock(mutex_);
  abort_reason_ = reason.empty() ? std::string("the stream was aborted") : reason;
  closed_ = true;
  changed_.notify_all();
}

void ByteQueue::consumer_gone() {
  std::lock_guard lock(mutex_);
  consumer_gone_ = true;
  ready_.clear();
  changed_.notify_all();
}

std::string_view ByteQueue::next() {
  std::unique_lock lock(mutex_);
  if (!reading_.empty() || reading_.capacity() > 0) {
    spare_.push_back(std::move(reading_));  // the consumer is done with the previous block
    reading_ = {};
    changed_.notify_all();
  }
  changed_.wait(lock, [&] { return !ready_.empty() || closed_; });
  if (!abort_reason_.empty()) throw Error(ExitCode::operation_failed, abort_reason_);
  if (ready_.empty()) return {};
  reading_ = std::move(ready_.front());
  ready_.pop_front();
  return count(std::string_view(reading_.data(), reading_.size()));
}

}  // namespace ibdriver::archive
