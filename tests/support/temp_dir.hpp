#pragma once
#include <filesystem>

namespace ibdriver::test {

// A fresh folder under $TMPDIR, removed with everything in it when the owner goes away.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace ibdriver::test
