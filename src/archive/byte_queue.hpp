#pragma once
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>

#include "archive/byte_source.hpp"

namespace ibdriver::archive {

// Bytes handed from one thread (a download) to another (an extraction) through a few bounded blocks:
// the producer waits when max_blocks are queued, so memory stays bounded whatever the archive's size.
class ByteQueue : public ByteSource {
 public:
  explicit ByteQueue(std::size_t max_blocks = 16) : max_blocks_(max_blocks) {}

  // Producer side. push() returns false once the consumer has gone (it failed): drop the rest.
  bool push(const char* data, std::size_t size);
  void close();                            // end of stream: next() then returns empty
  void abort(const std::string& reason);   // next() then throws Error with the reason

  // Consumer side.
  std::string_view next() override;
  void consumer_gone();  // the consumer stopped (after an error); push() stops blocking

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> blocks_;
  std::string current_;
  std::size_t max_blocks_;
  bool closed_ = false;
  bool consumer_gone_ = false;
  std::string abort_reason_;
};

}  // namespace ibdriver::archive
