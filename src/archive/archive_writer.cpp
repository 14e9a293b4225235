#include "archive/archive_writer.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/unique_fd.hpp"

namespace ibdriver::archive {

void ArchiveWriter::WriteDeleter::operator()(struct archive* handle) const noexcept { archive_write_free(handle); }
void ArchiveWriter::EntryDeleter::operator()(struct archive_entry* entry) const noexcept { archive_entry_free(entry); }

ArchiveWriter::ArchiveWriter(const std::filesystem::path& file, WriteFormat format) : handle_(archive_write_new()), file_(file) {
  if (!handle_) throw Error(ExitCode::operation_failed, fmt::format("libarchive could not create a writer for {}", file.string()));
  int status = ARCHIVE_OK;
  if (format == WriteFormat::ar) {
    // GNU/SVR4 ar, as dpkg-deb writes it (dpkg strips the trailing '/' of member names).
    status = archive_write_set_format_ar_svr4(handle_.get());
    if (status == ARCHIVE_OK) status = archive_write_add_filter_none(handle_.get());
  } else {
    status = archive_write_set_format_pax_restricted(handle_.get());
    if (status == ARCHIVE_OK) status = archive_write_add_filter_gzip(handle_.get());
  }
  if (status != ARCHIVE_OK) fail("setting up");
  if (archive_write_open_filename(handle_.get(), file.c_str()) != ARCHIVE_OK) fail("creating");
}

ArchiveWriter::~ArchiveWriter() {
  if (handle_ && !finished_) archive_write_close(handle_.get());
}

void ArchiveWriter::fail(const std::string& doing) const {
  const char* message = archive_error_string(handle_.get());
  throw Error(ExitCode::operation_failed,
              fmt::format("{} the archive {}: {}", doing, file_.string(), message != nullptr ? message : "libarchive failed"));
}

void ArchiveWriter::write_header(struct archive_entry* entry, const std::string& name) {
  if (archive_write_header(handle_.get(), entry) != ARCHIVE_OK) fail(fmt::format("writing the entry {} into", name));
}

void ArchiveWriter::add_file(const std::string& name, std::string_view content, mode_t mode, std::time_t mtime) {
  std::unique_ptr<struct archive_entry, EntryDeleter> entry(archive_entry_new());
  archive_entry_set_pathname(entry.get(), name.c_str());
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), mode & 07777);
  archive_entry_set_size(entry.get(), static_cast<la_int64_t>(content.size()));
  archive_entry_set_mtime(entry.get(), mtime, 0);
  archive_entry_set_uid(entry.get(), 0);
  archive_entry_set_gid(entry.get(), 0);
  write_header(entry.get(), name);
  if (!content.empty() && archive_write_data(handle_.get(), content.data(), content.size()) != static_cast<la_ssize_t>(content.size())) {
    fail(fmt::format("writing the data of {} into", name));
  }
}

void ArchiveWriter::add_from_disk(const std::string& name, const std::filesystem::path& source) {
  struct stat info {};
  if (::lstat(source.c_str(), &info) != 0) {
    throw SystemError(ExitCode::operation_failed, fmt::format("reading {} for the archive {}", source.string(), file_.string()), errno);
  }
  std::unique_ptr<struct archive_entry, EntryDeleter> entry(archive_entry_new());
  archive_entry_set_pathname(entry.get(), name.c_str());
  archive_entry_set_perm(entry.get(), info.st_mode & 07777);
  archive_entry_set_uid(entry.get(), info.st_uid);
  archive_entry_set_gid(entry.get(), info.st_gid);
  archive_entry_set_mtime(entry.get(), info.st_mtim.tv_sec, 0);
  if (S_ISDIR(info.st_mode)) {
    archive_entry_set_filetype(entry.get(), AE_IFDIR);
    write_header(entry.get(), name);
    return;
  }
  if (S_ISLNK(info.st_mode)) {
    std::vector<char> target(static_cast<std::size_t>(info.st_size > 0 ? info.st_size : 4096) + 1);
    auto length = ::readlink(source.c_str(), target.data(), target.size());
    if (length < 0 || static_cast<std::size_t>(length) >= target.size()) {
      throw SystemError(ExitCode::operation_failed, fmt::format("reading the link {}", source.string()), length < 0 ? errno : ENAMETOOLONG);
    }
    archive_entry_set_filetype(entry.get(), AE_IFLNK);
    archive_entry_set_symlink(entry.get(), std::string(target.data(), static_cast<std::size_t>(length)).c_str());
    write_header(entry.get(), name);
    return;
  }
  if (!S_ISREG(info.st_mode)) {
    throw Error(ExitCode::operation_failed,
                fmt::format("{} is neither a file, a folder nor a symbolic link: it cannot go into {}", source.string(), file_.string()));
  }
  UniqueFd fd(::open(source.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) throw SystemError(ExitCode::operation_failed, fmt::format("opening {} for the archive {}", source.string(), file_.string()), errno);
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_size(entry.get(), info.st_size);
  write_header(entry.get(), name);
  std::array<char, 65536> block{};
  la_int64_t written = 0;
  while (written < info.st_size) {
    ssize_t got = ::read(fd.get(), block.data(), block.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw SystemError(ExitCode::operation_failed, fmt::format("reading {}", source.string()), errno);
    if (got == 0) {
      throw Error(ExitCode::operation_failed, fmt::format("{} shrank while it was written into {}", source.string(), file_.string()),
                  "run again once nothing changes the file");
    }
    auto size = static_cast<std::size_t>(std::min<la_int64_t>(got, info.st_size - written));
    if (archive_write_data(handle_.get(), block.data(), size) != static_cast<la_ssize_t>(size)) fail(fmt::format("writing the data of {} into", name));
    written += static_cast<la_int64_t>(size);
  }
}

void ArchiveWriter::finish() {
  finished_ = true;
  if (archive_write_close(handle_.get()) != ARCHIVE_OK) fail("finishing");
}

}  // namespace ibdriver::archive
