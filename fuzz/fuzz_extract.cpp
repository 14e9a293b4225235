// Any bytes as an archive: extracted into a scratch folder or refused with an ibdriver::Error, never
// a crash, and never a file outside the folder.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "archive/byte_source.hpp"
#include "archive/extract.hpp"
#include "core/error.hpp"

namespace {
class MemorySource : public ibdriver::archive::ByteSource {
 public:
  MemorySource(const std::uint8_t* data, std::size_t size) : data_(reinterpret_cast<const char*>(data)), size_(size) {}
  std::string_view next() override {
    // Odd-sized pieces exercise every boundary of the readers.
    std::size_t take = std::min<std::size_t>(size_ - offset_, 4093);
    std::string_view block(data_ + offset_, take);
    offset_ += take;
    return count(block);
  }

 private:
  const char* data_;
  std::size_t size_;
  std::size_t offset_ = 0;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path scratch = std::filesystem::temp_directory_path() /
                                               ("ibdriver-fuzz-extract-" + std::to_string(::getpid()));
  std::filesystem::remove_all(scratch);
  std::filesystem::create_directories(scratch / "target");
  ibdriver::archive::ExtractionLimits limits;
  limits.max_total_bytes = 4 << 20;
  limits.max_entries = 256;
  limits.ratio_grace_bytes = 1 << 20;
  MemorySource source(data, size);
  try {
    ibdriver::archive::extract_archive(source, "fuzz.tar", scratch / "target", limits);
  } catch (const ibdriver::Error&) {
  }
  for (const auto& entry : std::filesystem::directory_iterator(scratch)) {
    if (entry.path().filename() != "target") std::abort();  // something was written beside the target
  }
  return 0;
}
