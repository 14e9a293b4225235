#pragma once
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "archive/byte_source.hpp"

namespace ibdriver::archive {

// Bytes handed from one thread (a download) to another (an extraction) through a few fixed blocks
// that are filled, handed over and recycled: the producer waits when all are in flight, so memory
// stays bounded (max_blocks x block_size) whatever the archive's size, and no block is allocated
// per chunk.
class ByteQueue : public ByteSource {
 public:
  explicit ByteQueue(std::size_t max_blocks = 8, std::size_t block_size = 1 << 20);

  // Producer side. push() returns false once the consumer has gone (it finished or failed): drop the rest.
  bool push(const char* data, std::size_t size);
  void close();                           // end of stream (hands over the last, partial block)
  void abort(const std::string& reason);  // next() then throws Error with the reason

  // Consumer side.
  std::string_view next() override;
  void consumer_gone();  // the consumer stopped; push() stops blocking

 private:
  bool hand_over(std::unique_lock<std::mutex>& lock);  // the filling block to the consumer

  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t max_blocks_;
  std::size_t block_size_;
  std::vector<char> filling_;             // producer's block
  std::deque<std::vector<char>> ready_;   // handed over, not yet read
  std::vector<char> reading_;             // consumer's block (valid until the next next())
  std::vector<std::vector<char>> spare_;  // recycled
  std::size_t blocks_out_ = 0;            // blocks allocated
  bool closed_ = false;
  bool consumer_gone_ = false;
  std::string abort_reason_;
};

}  // namespace ibdriver::archive
