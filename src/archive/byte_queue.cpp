#include "archive/byte_queue.hpp"

#include "core/error.hpp"

namespace ibdriver::archive {

bool ByteQueue::push(const char* data, std::size_t size) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return blocks_.size() < max_blocks_ || consumer_gone_; });
  if (consumer_gone_) return false;
  blocks_.emplace_back(data, size);
  lock.unlock();
  changed_.notify_all();
  return true;
}

void ByteQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  changed_.notify_all();
}

void ByteQueue::abort(const std::string& reason) {
  {
    std::lock_guard lock(mutex_);
    abort_reason_ = reason.empty() ? std::string("the stream was aborted") : reason;
    closed_ = true;
  }
  changed_.notify_all();
}

void ByteQueue::consumer_gone() {
  {
    std::lock_guard lock(mutex_);
    consumer_gone_ = true;
    blocks_.clear();
  }
  changed_.notify_all();
}

std::string_view ByteQueue::next() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return !blocks_.empty() || closed_; });
  if (!abort_reason_.empty()) throw Error(ExitCode::operation_failed, abort_reason_);
  if (blocks_.empty()) return {};
  current_ = std::move(blocks_.front());
  blocks_.pop_front();
  lock.unlock();
  changed_.notify_all();
  return count(current_);
}

}  // namespace ibdriver::archive
