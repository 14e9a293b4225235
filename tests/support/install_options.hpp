#pragma once
#include <chrono>
#include <filesystem>

#include "pipeline/install_stage.hpp"

namespace ibdriver::test {

// Install options for a fake root whose release comes from a --catalog overlay: no VM size check, the
// cache in `cache_dir`, no validation (a fake root has no verbs device), short lock waits.
inline pipeline::InstallOptions fake_root_install_options(const std::filesystem::path& overlay, const std::filesystem::path& cache_dir) {
  pipeline::InstallOptions options;
  options.fetch.plan.catalog_overlay = overlay;
  options.fetch.plan.detect.skip_vm_size_check = true;
  options.fetch.cache_dir = cache_dir;
  options.validate = false;
  options.lock_wait = std::chrono::seconds(5);
  options.packages.lock_timeout = std::chrono::seconds(30);
  return options;
}

}  // namespace ibdriver::test
