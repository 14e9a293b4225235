#include "core/secrets.hpp"

#include <algorithm>
#include <mutex>
#include <vector>

namespace ibdriver {
namespace {

struct SecretList {
  std::mutex mutex;
  std::vector<std::string> values;  // longest first, so a secret containing another is masked whole
};

SecretList& secrets() {
  static SecretList instance;
  return instance;
}

constexpr std::string_view mask = "***";

}  // namespace

void register_secret(std::string_view value) {
  if (value.size() < 4) return;
  auto& list = secrets();
  std::lock_guard lock(list.mutex);
  if (std::find(list.values.begin(), list.values.end(), value) != list.values.end()) return;
  list.values.emplace_back(value);
  std::sort(list.values.begin(), list.values.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

std::string mask_secrets(std::string_view text) {
  auto& list = secrets();
  std::lock_guard lock(list.mutex);
  std::string result(text);
  for (const auto& secret : list.values) {
    for (auto at = result.find(secret); at != std::string::npos; at = result.find(secret, at + mask.size())) {
      result.replace(at, secret.size(), mask);
    }
  }
  return result;
}

}  // namespace ibdriver
