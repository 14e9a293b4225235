#include "core/error.hpp"

#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ibdriver {

std::string_view describe(ExitCode code) {
  switch (code) {
    case ExitCode::success: return "success";
    case ExitCode::usage: return "incorrect usage";
    case ExitCode::no_vmbus: return "Hyper-V/Azure integration (VMBus) not present";
    case ExitCode::no_infiniband_device: return "no Mellanox InfiniBand device on this VM";
    case ExitCode::os_not_supported: return "OS (image) not supported";
    case ExitCode::vm_size_not_supported: return "VM size not supported";
    case ExitCode::operation_failed: return "operation failed";
  }
  return "unknown exit code";
}

Error::Error(ExitCode code, const std::string& what_failed, std::string hint, Remedies remedies)
    : std::runtime_error(what_failed), code_(code), hint_(std::move(hint)), remedies_(std::move(remedies)) {}

std::string_view knob_id(Knob knob) {
  switch (knob) {
    case Knob::skip_vmbus_check: return "skip_vmbus_check";
    case Knob::skip_device_check: return "skip_device_check";
    case Knob::skip_os_check: return "skip_os_check";
    case Knob::skip_vm_size_check: return "skip_vm_size_check";
    case Knob::imds_url: return "imds_url";
    case Knob::driver_url: return "driver_url";
    case Knob::driver_version: return "driver_version";
    case Knob::catalog_file: return "catalog_file";
    case Knob::ca_bundle: return "ca_bundle";
    case Knob::lock_wait: return "lock_wait";
    case Knob::kernel: return "kernel";
    case Knob::mok_key_pair: return "mok_key_pair";
    case Knob::generate_mok_key: return "generate_mok_key";
    case Knob::expect_link_layer: return "expect_link_layer";
    case Knob::validate_wait: return "validate_wait";
    case Knob::skip_validation: return "skip_validation";
    case Knob::os_spec: return "os_spec";
    case Knob::bundle_sha256: return "bundle_sha256";
    case Knob::install_headers: return "install_headers";
    case Knob::reload: return "reload";
  }
  return "unknown";
}

void to_json(nlohmann::json& out, const Remedy& remedy) { out = {{"knob", knob_id(remedy.knob)}, {"value", remedy.value}}; }

SystemError::SystemError(ExitCode code, const std::string& what_failed, int error_number, std::string hint)
    : Error(code, fmt::format("{}: {}", what_failed, std::strerror(error_number)), std::move(hint)),
      errno_(error_number) {}

FileError::FileError(ExitCode code, const std::string& doing, const std::filesystem::path& file,
                     int error_number, std::string hint)
    : SystemError(code, fmt::format("{} {}", doing, file.string()), error_number, std::move(hint)),
      path_(file) {}

namespace {

ExitCode innermost_code(const std::exception& error, ExitCode found) {
  if (const auto* ours = dynamic_cast<const Error*>(&error)) found = ours->code();
  try {
    std::rethrow_if_nested(error);
  } catch (const std::exception& nested) {
    return innermost_code(nested, found);
  } catch (...) {
  }
  return found;
}

void collect(const std::exception& error, ErrorReport& report) {
  ErrorLink link{error.what(), {}, {}};
  if (const auto* ours = dynamic_cast<const Error*>(&error)) {
    link.hint = ours->hint();
    link.remedies = ours->remedies();
  } else if (dynamic_cast<const std::bad_alloc*>(&error) != nullptr) {
    link.message = "out of memory";
  }
  report.chain.push_back(std::move(link));
  try {
    std::rethrow_if_nested(error);
  } catch (const std::exception& nested) {
    collect(nested, report);
  } catch (...) {
    report.chain.push_back({"unknown error", {}, {}});
  }
}

}  // namespace

void rethrow_with_context(const std::string& doing) {
  try {
    throw;
  } catch (const std::exception& error) {
    std::throw_with_nested(Error(innermost_code(error, ExitCode::operation_failed), doing));
  }
}

ErrorReport report_error(const std::exception_ptr& error) {
  ErrorReport report;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& caught) {
    report.code = innermost_code(caught, ExitCode::operation_failed);
    collect(caught, report);
  } catch (...) {
    report.chain.push_back({"unknown error", {}, {}});
  }
  return report;
}

std::string ErrorReport::summary() const {
  std::string text;
  for (const auto& link : chain) {
    if (!text.empty()) text += ": ";
    text += link.message;
  }
  return text;
}

}  // namespace ibdriver
