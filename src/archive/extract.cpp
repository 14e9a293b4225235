#include "archive/extract.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <random>

#include <fmt/format.h>

#include "archive/detail/archive_handle.hpp"
#include "archive/entry_path.hpp"
#include "archive/detail/gzip_source.hpp"
#include "archive/detail/tree_writer.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/text.hpp"

namespace ibdriver::archive {

namespace fs = std::filesystem;

namespace {

constexpr const char* hostile_hint =
    "the archive is corrupt or hostile; nothing of it was kept. Fetch the bundle again from a trusted source";

[[noreturn]] void refuse(const std::string& name, const std::string& entry, const std::string& reason) {
  throw Error(ExitCode::operation_failed,
              fmt::format("refusing {}: entry \"{}\": {}", name, text::printable(entry), reason), hostile_hint);
}

// The entries of one archive stream, handed to a visitor; nested .deb payloads recurse.
class EntryWalker {
 public:
  EntryWalker(const std::string& name, const ExtractionLimits& limits) : name_(name), limits_(limits) {}

  ExtractionReport& report() { return report_; }

  // Reads `source` (sniffing gzip for ISA-L) and calls visit(handle, entry, normalized path) per entry.
  template <typename Visit>
  void walk(ByteSource& source, const Visit& visit, int depth = 0) {
    std::string head(source.next());
    PrefixedSource sniffed(head, source);
    std::unique_ptr<ByteSource> inflated;
    ByteSource* input = &sniffed;
#if IBDRIVER_HAVE_ISAL
    if (looks_like_gzip(head)) {
      inflated = std::make_unique<GzipInflateSource>(sniffed, name_);
      input = inflated.get();
      report_.isal = true;
    }
#endif
    ArchiveReadHandle handle(*input, name_, inflated != nullptr);
    archive_entry* entry = nullptr;
    while (true) {
      int status = archive_read_next_header(handle.get(), &entry);
      if (status == ARCHIVE_EOF) break;
      if (status < ARCHIVE_WARN) handle.fail("reading");
      const char* raw = archive_entry_pathname(entry);
      std::string raw_path = raw != nullptr ? raw : "";
      if (++report_.entries > limits_.max_entries) refuse(name_, raw_path, fmt::format("more than {} entries", limits_.max_entries));
      if (depth == 0 && is_ar(handle)) {
        // A .deb: an ar archive whose data.tar.* member holds the files.
        if (raw_path.rfind("data.tar", 0) == 0) {
          MemberSource member(handle);
          walk(member, visit, depth + 1);
        }
        continue;
      }
      auto verdict = normalize_entry_path(raw_path, limits_.max_path_length);
      if (!verdict.path) refuse(name_, raw_path, verdict.reason);
      visit(handle, entry, *verdict.path);
    }
    report_.compressed_bytes = std::max(report_.compressed_bytes, source.consumed());
  }

  void check_budget(const std::string& path, std::uint64_t more, std::uint64_t compressed) {
    report_.bytes += more;
    if (report_.bytes > limits_.max_total_bytes) {
      refuse(name_, path, fmt::format("the archive unpacks to more than {} bytes", limits_.max_total_bytes));
    }
    if (report_.bytes > limits_.ratio_grace_bytes && compressed > 0 &&
        static_cast<double>(report_.bytes) / static_cast<double>(compressed) > limits_.max_ratio) {
      refuse(name_, path, fmt::format("{} bytes unpacked from {} compressed: more than {}x, a decompression bomb",
                                      report_.bytes, compressed, limits_.max_ratio));
    }
  }

  const std::string& name() const { return name_; }

 private:
  // The data of the current ar member, as a source for the nested archive.
  class MemberSource : public ByteSource {
   public:
    explicit MemberSource(ArchiveReadHandle& outer) : outer_(outer) {}
    std::string_view next() override {
      const void* data = nullptr;
      std::size_t size = 0;
      la_int64_t offset = 0;
      int status = archive_read_data_block(outer_.get(), &data, &size, &offset);
      if (status == ARCHIVE_EOF) return {};
      if (status < ARCHIVE_WARN) outer_.fail("reading a member of");
      return count(std::string_view(static_cast<const char*>(data), size));
    }

   private:
    ArchiveReadHandle& outer_;
  };

  static bool is_ar(const ArchiveReadHandle& handle) {
    return (archive_format(handle.get()) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_AR;
  }

  std::string name_;
  const ExtractionLimits& limits_;
  ExtractionReport report_;
};

char type_letter(archive_entry* entry) {
  if (archive_entry_hardlink(entry) != nullptr) return 'h';
  switch (archive_entry_filetype(entry)) {
    case AE_IFREG: return 'f';
    case AE_IFDIR: return 'd';
    case AE_IFLNK: return 'l';
    case AE_IFCHR: return 'c';
    case AE_IFBLK: return 'b';
    case AE_IFIFO: return 'p';
    case AE_IFSOCK: return 's';
    default: return '?';
  }
}

}  // namespace

ExtractionReport extract_archive(ByteSource& source, const std::string& name, const fs::path& folder,
                                 const ExtractionLimits& limits) {
  EntryWalker walker(name, limits);
  TreeWriter writer(folder);
  walker.walk(source, [&](ArchiveReadHandle& handle, archive_entry* entry, const std::string& path) {
    auto& report = walker.report();
    const auto mode = archive_entry_perm(entry);
    const auto mtime = archive_entry_mtime(entry);
    try {
      switch (type_letter(entry)) {
        case 'd':
          writer.directory(path, mode, mtime);
          ++report.directories;
          break;
        case 'f': {
          if (archive_entry_size_is_set(entry) != 0 && archive_entry_size(entry) >= 0 &&
              report.bytes + static_cast<std::uint64_t>(archive_entry_size(entry)) > limits.max_total_bytes) {
            refuse(name, path, fmt::format("it would unpack past the limit of {} bytes", limits.max_total_bytes));
          }
          writer.file(
              path, mode, mtime,
              [&](const void*& data, std::size_t& size, std::int64_t& offset) {
                la_int64_t block_offset = 0;
                int status = archive_read_data_block(handle.get(), &data, &size, &block_offset);
                if (status == ARCHIVE_EOF) return false;
                if (status < ARCHIVE_WARN) handle.fail(fmt::format("reading entry \"{}\" of", text::printable(path)));
                offset = block_offset;
                return true;
              },
              [&](std::uint64_t bytes) { walker.check_budget(path, bytes, source.consumed()); });
          ++report.files;
          break;
        }
        case 'l': {
          const char* target = archive_entry_symlink(entry);
          writer.symlink(path, target != nullptr ? target : "");
          ++report.symlinks;
          break;
        }
        case 'h': {
          auto existing = normalize_entry_path(archive_entry_hardlink(entry), limits.max_path_length);
          if (!existing.path) refuse(name, path, fmt::format("a hard link whose target {}", existing.reason));
          writer.hardlink(path, *existing.path);
          ++report.hardlinks;
          break;
        }
        case 'c':
        case 'b':
          refuse(name, path, "a device node");
        case 'p':
          refuse(name, path, "a FIFO");
        case 's':
          refuse(name, path, "a socket");
        default:
          refuse(name, path, "an entry of unknown type");
      }
    } catch (const TreeWriter::UnsafeEntry& unsafe) {
      refuse(name, path, unsafe.reason);
    }
  });
  writer.finish();
  auto report = walker.report();
  report.compressed_bytes = source.consumed();
  return report;
}

std::vector<ListedEntry> list_archive(ByteSource& source, const std::string& name, const ExtractionLimits& limits) {
  EntryWalker walker(name, limits);
  std::vector<ListedEntry> entries;
  walker.walk(source, [&](ArchiveReadHandle&, archive_entry* entry, const std::string& path) {
    ListedEntry listed{path, type_letter(entry), static_cast<std::uint64_t>(std::max<la_int64_t>(0, archive_entry_size(entry))), {}};
    if (listed.type == 'l' && archive_entry_symlink(entry) != nullptr) listed.link_target = archive_entry_symlink(entry);
    if (listed.type == 'h') listed.link_target = archive_entry_hardlink(entry);
    entries.push_back(std::move(listed));
  });
  return entries;
}

StagedUnpack::StagedUnpack(fs::path target) : target_(std::move(target)) {
  std::error_code error;
  if (fs::exists(target_, error) && !(fs::is_directory(target_, error) && fs::is_empty(target_, error))) {
    throw Error(ExitCode::operation_failed, fmt::format("{} already exists and is not an empty folder", target_.string()),
                "unpack into a fresh folder, or remove this one first");
  }
  auto parent = target_.has_parent_path() ? target_.parent_path() : fs::path(".");
  fs::create_directories(parent, error);
  std::random_device random;
  staging_ = parent / fmt::format(".{}.staging-{}-{:08x}", target_.filename().string(), ::getpid(), random());
  if (!fs::create_directory(staging_, error) || error) {
    throw FileError(ExitCode::operation_failed, "cannot create the staging folder", staging_, error.value());
  }
}

StagedUnpack::~StagedUnpack() {
  if (promoted_) return;
  std::error_code error;
  fs::remove_all(staging_, error);  // never follows symlinks
}

void StagedUnpack::clear() {
  std::error_code error;
  fs::remove_all(staging_, error);
  if (!fs::create_directory(staging_, error) || error) {
    throw FileError(ExitCode::operation_failed, "cannot create the staging folder", staging_, error.value());
  }
}

void StagedUnpack::promote() {
  std::error_code error;
  if (fs::is_directory(target_, error) && fs::is_empty(target_, error)) fs::remove(target_, error);
  fs::permissions(staging_, fs::perms(0755), error);
  if (::rename(staging_.c_str(), target_.c_str()) != 0) {
    throw FileError(ExitCode::operation_failed, "cannot move the unpacked files to", target_, errno);
  }
  promoted_ = true;
}

ExtractionReport unpack_file(const fs::path& archive_file, const fs::path& target, const ExtractionLimits& limits,
                             const std::string& name) {
  StagedUnpack staged(target);
  FileByteSource source(archive_file);
  auto report = extract_archive(source, name.empty() ? archive_file.filename().string() : name, staged.staging(), limits);
  staged.promote();
  return report;
}

}  // namespace ibdriver::archive
