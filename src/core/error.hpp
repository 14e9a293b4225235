#pragma once
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/exit_code.hpp"
#include "core/remedy.hpp"

namespace ibdriver {

// The base of every error ibdriver raises on purpose: what failed (with the file, URL, package or
// kernel it failed on), what to do about it, and the exit code the process ends with.
class Error : public std::runtime_error {
 public:
  // `hint` says what to do in words that need no front end; `remedies` are the knobs that would also
  // get past the error, which cli/ words as flags and extension/ as settings.
  Error(ExitCode code, const std::string& what_failed, std::string hint = {}, Remedies remedies = {});
  ExitCode code() const noexcept { return code_; }
  const std::string& hint() const noexcept { return hint_; }
  const Remedies& remedies() const noexcept { return remedies_; }

 private:
  ExitCode code_;
  std::string hint_;
  Remedies remedies_;
};

// A failed system call: carries errno.
class SystemError : public Error {
 public:
  SystemError(ExitCode code, const std::string& what_failed, int error_number, std::string hint = {});
  int error_number() const noexcept { return errno_; }

 private:
  int errno_;
};

// A failed operation on a file: carries the path.
class FileError : public SystemError {
 public:
  FileError(ExitCode code, const std::string& doing, const std::filesystem::path& file, int error_number,
            std::string hint = {});
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

// Rethrows the exception in flight wrapped in an Error that says what the caller was doing. The
// wrapper keeps the exit code of the innermost ibdriver::Error (operation_failed for anything else).
[[noreturn]] void rethrow_with_context(const std::string& doing);

// One link of an error chain, outermost first.
struct ErrorLink {
  std::string message;
  std::string hint;
  Remedies remedies;
};

// Flattens a (possibly nested) exception into its links and the exit code to end with.
struct ErrorReport {
  std::vector<ErrorLink> chain;
  ExitCode code = ExitCode::operation_failed;
  std::string summary() const;  // "outer: inner: innermost"
};
ErrorReport report_error(const std::exception_ptr& error);

}  // namespace ibdriver
