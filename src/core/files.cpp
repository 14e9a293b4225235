#include "core/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/unique_fd.hpp"

namespace ibdriver {

namespace {
std::optional<std::string> read_file_impl(const std::filesystem::path& file, std::size_t max_bytes,
                                          bool missing_is_error) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) {
    if (errno == ENOENT && !missing_is_error) return std::nullopt;
    throw FileError(ExitCode::operation_failed, "cannot open", file, errno);
  }
  std::string content;
  std::array<char, 16384> chunk{};
  while (true) {
    ssize_t got = ::read(fd.get(), chunk.data(), chunk.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      throw FileError(ExitCode::operation_failed, "cannot read", file, errno);
    }
    if (got == 0) break;
    if (content.size() + static_cast<std::size_t>(got) > max_bytes) {
      throw Error(ExitCode::operation_failed,
                  fmt::format("{} is larger than the {} bytes expected of it", file.string(), max_bytes),
                  "check that the file is the one ibdriver should read");
    }
    content.append(chunk.data(), static_cast<std::size_t>(got));
  }
  return content;
}
}  // namespace

std::string read_file(const std::filesystem::path& file, std::size_t max_bytes) {
  return *read_file_impl(file, max_bytes, true);
}

std::optional<std::string> read_file_if_exists(const std::filesystem::path& file, std::size_t max_bytes) {
  return read_file_impl(file, max_bytes, false);
}

void write_file_atomically(const std::filesystem::path& file, std::string_view content, unsigned mode) {
  std::filesystem::path temporary = file;
  temporary += fmt::format(".tmp.{}", ::getpid());
  {
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd.valid()) throw FileError(ExitCode::operation_failed, "cannot create", temporary, errno);
    std::string_view rest = content;
    while (!rest.empty()) {
      ssize_t written = ::write(fd.get(), rest.data(), rest.size());
      if (written < 0) {
        if (errno == EINTR) continue;
        int error_number = errno;
        ::unlink(temporary.c_str());
        throw FileError(ExitCode::operation_failed, "cannot write", temporary, error_number);
      }
      rest.remove_prefix(static_cast<std::size_t>(written));
    }
    if (::fsync(fd.get()) != 0) {
      int error_number = errno;
      ::unlink(temporary.c_str());
      throw FileError(ExitCode::operation_failed, "cannot flush", temporary, error_number);
    }
  }
  if (::rename(temporary.c_str(), file.c_str()) != 0) {
    int error_number = errno;
    ::unlink(temporary.c_str());
    throw FileError(ExitCode::operation_failed, "cannot replace", file, error_number);
  }
}

}  // namespace ibdriver
