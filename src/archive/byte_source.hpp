#pragma once
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "core/unique_fd.hpp"

namespace ibdriver::archive {

// Where an archive's bytes come from, pulled a block at a time: a file, a download in flight, the
// output of a decompressor. An empty view means the end. Throws on failure.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual std::string_view next() = 0;
  // Bytes handed out so far (the compressed size, for the outermost source).
  std::uint64_t consumed() const { return consumed_; }

 protected:
  std::string_view count(std::string_view block) {
    consumed_ += block.size();
    return block;
  }

 private:
  std::uint64_t consumed_ = 0;
};

class FileByteSource : public ByteSource {
 public:
  explicit FileByteSource(const std::filesystem::path& file);
  std::string_view next() override;

 private:
  std::filesystem::path path_;
  UniqueFd fd_;
  std::vector<char> buffer_;
};

// A source whose first bytes were already read (to sniff the format), then the rest of `inner`.
class PrefixedSource : public ByteSource {
 public:
  PrefixedSource(std::string prefix, ByteSource& inner) : prefix_(std::move(prefix)), inner_(inner) {}
  std::string_view next() override;

 private:
  std::string prefix_;
  bool prefix_sent_ = false;
  ByteSource& inner_;
};

}  // namespace ibdriver::archive
