// Any bytes as a bundle's dkms.conf, as ibdriver's journal, as a boot unit (its ExecStart), as a KEY=VALUE file it edits,
// as a dpkg status stanza repacked into a control file, or as a DKMS make.log's `date` line:
// parsed or refused with an ibdriver::Error, never a crash; an edit never loses another line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.hpp"
#include "core/text.hpp"
#include "install/boot_unit.hpp"
#include "install/configure.hpp"
#include "install/deb_repack.hpp"
#include "install/dkms.hpp"
#include "install/journal.hpp"
#include "install/rpm_commands.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto module = ibdriver::install::parse_dkms_conf(text, "fuzz/dkms.conf");
    (void)ibdriver::install::build_order({module});
  } catch (const ibdriver::Error&) {
  }
  try {
    (void)ibdriver::install::Journal::parse(text, "fuzz/state.json");
  } catch (const ibdriver::Error&) {
  }
  try {
    auto control = ibdriver::install::control_from_status(text);
    if (control.rfind("Status:", 0) == 0 || control.find("\nStatus:") != std::string::npos) std::abort();  // dpkg's own field dropped
  } catch (const ibdriver::Error&) {
  }
  if (auto program = ibdriver::install::unit_exec_program(text); program && program->empty()) std::abort();
  auto edited = ibdriver::install::set_key(text, "OS.EnableRDMA", "y");
  auto lines_before = ibdriver::text::split(text, '\n').size();
  auto lines_after = ibdriver::text::split(edited, '\n').size();
  if (lines_after + 1 < lines_before) std::abort();  // at most the final newline may be normalized
  // A .repo file's excludepkgs= edit: every line kept, at most one added, and idempotent.
  auto excluded = ibdriver::install::with_excluded_packages(text, "baseos", {"rdma-core", "libibverbs"});
  if (ibdriver::text::split(excluded, '\n').size() > lines_before + 1 || excluded.size() < text.size()) std::abort();
  if (ibdriver::install::with_excluded_packages(excluded, "baseos", {"rdma-core", "libibverbs"}) != excluded) std::abort();
  // A make.log's start: a time from 1970 to year 9999, or nothing.
  if (auto start = ibdriver::install::make_log_start(text); start && (*start < -86400.0 * 2 || *start > 253402300800.0 + 86400.0 * 2)) {
    std::abort();
  }
  return 0;
}
