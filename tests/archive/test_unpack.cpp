// Real archives built by tests/fixtures/make_archive.py (hostile ones included), dpkg-deb and rpmbuild.
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <map>
#include <set>

#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "archive/entry_path.hpp"
#include "archive/extract.hpp"
#include "core/error.hpp"
#include "core/process.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;

namespace {

fs::path make_archive(const test::TempDir& dir, const std::string& kind) {
  auto output = dir.path() / kind;
  test::make_archive(kind, output);
  return output;
}

// Every path below `root` with its type, mode, size and content or link target.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> tree;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    struct stat status {};
    ::lstat(it->path().c_str(), &status);
    std::string description = fmt::format("mode {:o}", status.st_mode);
    if (S_ISLNK(status.st_mode)) {
      description += " -> " + fs::read_symlink(it->path()).string();
    } else if (S_ISREG(status.st_mode)) {
      std::ifstream in(it->path(), std::ios::binary);
      description += " " + std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
    tree[fs::relative(it->path(), root).string()] = description;
  }
  return tree;
}

// Nothing outside `target` may change: the folder holding it must have exactly what it had.
std::set<std::string> listing(const fs::path& folder) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) names.insert(entry.path().filename().string());
  return names;
}

}  // namespace

TEST_CASE("entry paths are normalized or refused", "[unpack][paths]") {
  using archive::normalize_entry_path;
  CHECK(normalize_entry_path("./a//b/./c", 4096).path == "a/b/c");
  CHECK(normalize_entry_path("./", 4096).path == ".");
  CHECK_FALSE(normalize_entry_path("/etc/passwd", 4096).path);
  CHECK_FALSE(normalize_entry_path("a/../../b", 4096).path);
  CHECK_FALSE(normalize_entry_path("a/..", 4096).path);
  CHECK_FALSE(normalize_entry_path(std::string("a\0b", 3), 4096).path);
  CHECK_FALSE(normalize_entry_path(std::string(300, 'a'), 4096).path);
  CHECK_FALSE(normalize_entry_path("abc/def", 5).path);
  CHECK(archive::symlink_stays_inside("a/b/link", "../c"));
  CHECK(archive::symlink_stays_inside("a/link", "../c"));
  CHECK_FALSE(archive::symlink_stays_inside("link", "../c"));
  CHECK_FALSE(archive::symlink_stays_inside("a/link", "/etc"));
  CHECK_FALSE(archive::symlink_stays_inside("a/link", "x/../../.."));
  CHECK_FALSE(archive::symlink_stays_inside("a/link", ""));
}

TEST_CASE("benign archives round-trip exactly, as GNU tar unpacks them", "[unpack]") {
  auto kind = GENERATE(as<std::string>{}, "benign.tar", "benign.tar.gz", "benign.tgz", "benign.tar.xz", "benign.tar.bz2",
                       "benign.tar.zst");
  INFO(kind);
  test::TempDir dir;
  auto file = make_archive(dir, kind);
  auto report = archive::unpack_file(file, dir.path() / "ours", {});
  CHECK(report.entries == 10);
  CHECK(report.files == 4);
  CHECK(report.symlinks == 1);
  CHECK(report.hardlinks == 1);
  CHECK(report.isal == (kind == "benign.tar.gz" || kind == "benign.tgz"));
  fs::create_directories(dir.path() / "gnu");
  auto tar = run_process({"tar", "-xf", file.string(), "-C", (dir.path() / "gnu").string(), "--no-same-owner"});
  REQUIRE(tar.succeeded());
  CHECK(snapshot(dir.path() / "ours") == snapshot(dir.path() / "gnu"));
}

TEST_CASE("hostile archives are refused with exit 14, naming the archive and the entry, leaving nothing", "[unpack]") {
  struct Case {
    const char* kind;
    const char* entry;
    const char* reason;
  };
  auto item = GENERATE(values<Case>({
      {"absolute", "/tmp/ibdriver-evil-absolute", "absolute"},
      {"dotdot", "ok/../../ibdriver-evil-dotdot", "climbs out"},
      {"symlink-escape", "escape", "points outside"},
      {"symlink-absolute", "escape", "points outside"},
      {"through-symlink", "link/file", "passes through \"link\""},
      {"hardlink-escape", "passwd", "hard link"},
      {"hardlink-missing", "link", "not a file this archive wrote"},
      {"device", "sda", "device node"},
      {"chardev", "null", "device node"},
      {"fifo", "pipe", "FIFO"},
      {"pax-path", "../ibdriver-evil-pax", "climbs out"},
      {"gnu-longname", "/../../bbbbbbbbbbbbbbbbbbbb/ibdriver-evil-gnu", "climbs out"},
      {"duplicate", "same", "duplicate"},
      {"gzip-bomb", "zeros", "decompression bomb"},
      {"truncated", "", "truncated"},
      {"corrupt-gzip", "", ""},
      {"long-path", "dddd", "longer than 4096"},
  }));
  INFO(item.kind);
  test::TempDir dir;
  auto file = make_archive(dir, item.kind);
  fs::create_directories(dir.path() / "work");
  auto before = listing(dir.path() / "work");
  try {
    archive::unpack_file(file, dir.path() / "work" / "target", {});
    FAIL("expected a refusal");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::operation_failed);
    std::string message = error.what();
    CHECK_THAT(message, Catch::Contains(item.kind));  // the archive's file name
    CHECK_THAT(message, Catch::Contains(item.entry) && Catch::Contains(item.reason));
  }
  CHECK(listing(dir.path() / "work") == before);  // no target, no staging folder
  CHECK_FALSE(fs::exists("/tmp/ibdriver-evil-absolute"));
  CHECK_FALSE(fs::exists(dir.path() / "ibdriver-evil-dotdot"));
  CHECK_FALSE(fs::exists(dir.path() / "work" / "ibdriver-evil-pax"));
}

TEST_CASE("setuid, setgid and sticky bits are stripped; ownership is not restored", "[unpack]") {
  test::TempDir dir;
  auto file = make_archive(dir, "setuid");
  archive::unpack_file(file, dir.path() / "out", {});
  CHECK((fs::status(dir.path() / "out/tool").permissions() & fs::perms::mask) == fs::perms(0755));
  CHECK((fs::status(dir.path() / "out/shared").permissions() & fs::perms::mask) == fs::perms(0777));
}

TEST_CASE("the limits are configurable", "[unpack]") {
  test::TempDir dir;
  archive::ExtractionLimits limits;
  limits.max_entries = 10;
  CHECK_THROWS_WITH(archive::unpack_file(make_archive(dir, "many-entries"), dir.path() / "a", limits),
                    Catch::Contains("more than 10 entries"));
  limits = {};
  limits.max_total_bytes = 1000;
  CHECK_THROWS_WITH(archive::unpack_file(make_archive(dir, "benign.tgz"), dir.path() / "b", limits),
                    Catch::Contains("limit of 1000 bytes"));
  limits = {};
  limits.max_ratio = 2;
  limits.ratio_grace_bytes = 0;
  CHECK_THROWS_WITH(archive::unpack_file(dir.path() / "benign.tgz", dir.path() / "c", limits),
                    Catch::Contains("decompression bomb"));
  CHECK_FALSE(fs::exists(dir.path() / "a"));
  CHECK_FALSE(fs::exists(dir.path() / "b"));
}

TEST_CASE("a target that already holds files is left alone", "[unpack]") {
  test::TempDir dir;
  auto file = make_archive(dir, "benign.tgz");
  fs::create_directories(dir.path() / "busy");
  std::ofstream(dir.path() / "busy" / "keep") << "mine";
  CHECK_THROWS_WITH(archive::unpack_file(file, dir.path() / "busy", {}), Catch::Contains("not an empty folder"));
  CHECK(listing(dir.path() / "busy") == std::set<std::string>{"keep"});
  fs::create_directories(dir.path() / "empty");
  CHECK_NOTHROW(archive::unpack_file(file, dir.path() / "empty", {}));
}

TEST_CASE("a .deb is listed and its data unpacked", "[unpack][deb]") {
  test::TempDir dir;
  auto package = dir.path() / "pkg";
  fs::create_directories(package / "DEBIAN");
  fs::create_directories(package / "usr/share/ibdriver-test");
  std::ofstream(package / "DEBIAN/control") << "Package: ibdriver-test\nVersion: 1.0\nArchitecture: all\n"
                                               "Maintainer: test <test@example.com>\nDescription: test\n";
  std::ofstream(package / "usr/share/ibdriver-test/hello") << "hello\n";
  auto built = run_process({"dpkg-deb", "--build", "-Zxz", package.string(), (dir.path() / "test.deb").string()});
  REQUIRE(built.succeeded());
  archive::FileByteSource source(dir.path() / "test.deb");
  auto entries = archive::list_archive(source, "test.deb", {});
  bool found = false;
  for (const auto& entry : entries) found = found || entry.path == "usr/share/ibdriver-test/hello";
  CHECK(found);
  archive::unpack_file(dir.path() / "test.deb", dir.path() / "out", {});
  std::ifstream in(dir.path() / "out/usr/share/ibdriver-test/hello");
  std::string line;
  std::getline(in, line);
  CHECK(line == "hello");
}

TEST_CASE("an .rpm's payload is listed and unpacked", "[unpack][rpm]") {
  test::TempDir dir;
  std::ofstream(dir.path() / "test.spec")
      << "Name: ibdriver-test\nVersion: 1.0\nRelease: 1\nSummary: test\nLicense: MIT\nBuildArch: noarch\n"
         "%description\ntest\n%install\nmkdir -p %{buildroot}/usr/share/ibdriver-test\n"
         "echo hello > %{buildroot}/usr/share/ibdriver-test/hello\n%files\n/usr/share/ibdriver-test/hello\n";
  auto built = run_process({"rpmbuild", "-bb", "--define", "_topdir " + (dir.path() / "top").string(),
                            (dir.path() / "test.spec").string()});
  REQUIRE(built.succeeded());
  auto rpm = dir.path() / "top/RPMS/noarch/ibdriver-test-1.0-1.noarch.rpm";
  archive::unpack_file(rpm, dir.path() / "out", {});
  std::ifstream in(dir.path() / "out/usr/share/ibdriver-test/hello");
  std::string line;
  std::getline(in, line);
  CHECK(line == "hello");
}

TEST_CASE("a gzip stream whose inflater hands back read-ahead bytes is refused, not read out of bounds", "[unpack][gzip]") {
  // Found by fuzz_extract (2026-11-30): ISA-L, stopping, returned more unread bytes than the block it
  // was given held; the remaining view's arithmetic underflowed (UBSan). Under ci/sanitize this fails
  // with the old code; with the fix it is a clear exit 14 or a clean extraction, never a crash.
  test::TempDir dir;
  fs::create_directories(dir.path() / "work");
  auto archive = fs::path(IBDRIVER_TEST_FIXTURES) / "archive" / "isal-readahead-underflow.tgz";
  bool refused = false;
  try {
    archive::unpack_file(archive, dir.path() / "work" / "target", {});
  } catch (const Error& error) {
    refused = true;
    CHECK(error.code() == ExitCode::operation_failed);
    CHECK_THAT(error.what(), Catch::Contains("isal-readahead-underflow.tgz"));
  }
  CHECK(listing(dir.path() / "work") == (refused ? std::set<std::string>{} : std::set<std::string>{"target"}));
}

namespace {

// Hands out a buffer in chunks of the given sizes (cycled), as a download or a sniffed prefix does:
// gzip members then end anywhere relative to a chunk's start.
class ChunkedSource : public archive::ByteSource {
 public:
  ChunkedSource(std::string bytes, std::vector<std::size_t> sizes) : bytes_(std::move(bytes)), sizes_(std::move(sizes)) {}
  std::string_view next() override {
    if (offset_ >= bytes_.size()) return {};
    auto size = std::min(sizes_[turn_++ % sizes_.size()], bytes_.size() - offset_);
    // A fresh heap block each time, the previous one freed: reading it again is a use after free,
    // which ASan reports (ci/sanitize runs this test).
    chunk_ = std::make_unique<char[]>(size);
    std::memcpy(chunk_.get(), bytes_.data() + offset_, size);
    offset_ += size;
    return count(std::string_view(chunk_.get(), size));
  }

 private:
  std::string bytes_;
  std::vector<std::size_t> sizes_;
  std::unique_ptr<char[]> chunk_;
  std::size_t offset_ = 0;
  std::size_t turn_ = 0;
};

std::string file_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("a multi-member .tgz streamed in chunks of every size unpacks whole", "[unpack][gzip]") {
  // Each gzip member's end makes the inflater hand back its read-ahead (ISA-L); the chunks are
  // inflated in place, not copied, so a position outside the chunk would read freed memory.
  test::TempDir dir;
  auto tree = dir.path() / "tree";
  fs::create_directories(tree / "DEBS");
  std::string random_bytes;
  for (std::uint32_t value = 1; random_bytes.size() < 300000; value = value * 1103515245u + 12345u) {
    random_bytes.push_back(static_cast<char>(value >> 16));
  }
  std::ofstream(tree / "DEBS" / "random.deb", std::ios::binary) << random_bytes;
  std::ofstream(tree / "zeros") << std::string(200000, '\0');
  std::ofstream(tree / "small") << "x";
  REQUIRE(run_process({"tar", "-cf", (dir.path() / "tree.tar").string(), "-C", tree.string(), "."}).succeeded());
  auto tar = file_bytes(dir.path() / "tree.tar");
  // Members split at odd places inside the tar; one is empty (gzip of nothing is a valid member).
  std::vector<std::size_t> cuts{0, 7, 7, 150001, 333333, tar.size()};
  std::string tgz;
  for (std::size_t index = 0; index + 1 < cuts.size(); ++index) {
    auto part = dir.path() / fmt::format("part{}", index);
    std::ofstream(part, std::ios::binary) << tar.substr(cuts[index], cuts[index + 1] - cuts[index]);
    REQUIRE(run_process({"gzip", "-n", part.string()}).succeeded());
    tgz += file_bytes(part.string() + ".gz");
  }
  std::vector<std::vector<std::size_t>> patterns{{4093}, {1 << 20}};
  for (std::size_t size = 1; size <= 20; ++size) {
    patterns.push_back({size});
    patterns.push_back({size, 1, 5});
  }
  for (const auto& sizes : patterns) {
    CAPTURE(sizes);
    ChunkedSource source(tgz, sizes);
    auto target = dir.path() / fmt::format("out-{}-{}", sizes.front(), sizes.size());
    fs::create_directories(target);
    archive::extract_archive(source, "multi-member.tgz", target, {});
    CHECK(file_bytes(target / "DEBS" / "random.deb") == random_bytes);
    CHECK(file_bytes(target / "zeros") == std::string(200000, '\0'));
    CHECK(file_bytes(target / "small") == "x");
  }
}
