#include "pipeline/streamed_unpack.hpp"

#include <pthread.h>

#include <exception>
#include <thread>

#include "archive/byte_queue.hpp"
#include "core/log.hpp"

namespace ibdriver::pipeline {

namespace {

// Passes progress on, and feeds the bytes to the unpacking thread while they arrive in order.
class StreamTap : public fetch::DownloadObserver {
 public:
  StreamTap(fetch::DownloadObserver& inner, archive::ByteQueue& queue) : inner_(inner), queue_(queue) {}

  void on_source(std::string_view url, std::uint64_t resume_from) override { inner_.on_source(url, resume_from); }
  void on_progress(std::uint64_t bytes, std::optional<std::uint64_t> total) override { inner_.on_progress(bytes, total); }
  void on_retry(std::string_view reason, int attempt, std::chrono::milliseconds wait) override {
    inner_.on_retry(reason, attempt, wait);
  }
  void on_data(std::uint64_t offset, const char* data, std::size_t size) override {
    if (broken_ || !feeding_) return;
    if (offset != next_) {
      // A resumed .part (bytes from an earlier run) or a restart: the stream has a hole.
      broken_ = true;
      queue_.abort("the download did not arrive as one stream");
      return;
    }
    next_ += size;
    feeding_ = queue_.push(data, size);
  }
  bool broken() const { return broken_; }

 private:
  fetch::DownloadObserver& inner_;
  archive::ByteQueue& queue_;
  std::uint64_t next_ = 0;
  bool broken_ = false;
  bool feeding_ = true;  // false once the unpacking thread stopped reading (done or failed)
};

}  // namespace

UnpackedFetch fetch_and_unpack(const fetch::BundleSource& source, const fetch::BundleCache& cache,
                               const fetch::TransferSettings& settings, fetch::DownloadObserver& observer,
                               const std::filesystem::path& target, const archive::ExtractionLimits& limits) {
  UnpackedFetch result;
  if (auto cached = cache.verified_entry(source.sha256)) {
    result.fetched.path = *cached;
    result.fetched.sha256 = source.sha256;
    result.fetched.bytes = std::filesystem::file_size(*cached);
    result.fetched.from_cache = true;
    result.fetched.url = "cache";
    result.report = archive::unpack_file(*cached, target, limits, source.file_name);
    return result;
  }
  archive::StagedUnpack staged(target);
  archive::ByteQueue queue;
  StreamTap tap(observer, queue);
  std::exception_ptr unpack_error;
  std::thread unpacker([&] {
    pthread_setname_np(pthread_self(), "ibdriver-unpack");  // for top -H and perf
    try {
      result.report = archive::extract_archive(queue, source.file_name, staged.staging(), limits);
    } catch (...) {
      unpack_error = std::current_exception();
    }
    queue.consumer_gone();  // the rest of the download (tar padding, or after a failure) is not needed here
  });
  try {
    result.fetched = fetch::fetch_bundle(source, cache, settings, tap);
  } catch (...) {
    queue.abort("the download failed");
    unpacker.join();
    throw;  // the staging folder goes with `staged`
  }
  if (tap.broken()) {
    unpacker.join();
    log::info("the download was resumed, so it is unpacked from the verified file instead of the stream");
    staged.clear();
    archive::FileByteSource bytes(result.fetched.path);
    result.report = archive::extract_archive(bytes, source.file_name, staged.staging(), limits);
  } else {
    queue.close();
    unpacker.join();
    if (unpack_error) std::rethrow_exception(unpack_error);
    result.streamed = true;
  }
  staged.promote();  // only now: the whole archive was read and its SHA-256 matched
  return result;
}

}  // namespace ibdriver::pipeline
