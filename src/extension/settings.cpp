#include "extension/settings.hpp"

#include <array>
#include <string_view>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/secrets.hpp"
#include "catalog/signature.hpp"
#include "core/text.hpp"
#include "verbs/validate.hpp"

namespace ibdriver::extension {
namespace {

constexpr std::string_view settings_hint = "fix the extension's settings (see the README, \"Extension settings\") and apply them again";

[[noreturn]] void bad_setting(const std::string& key, const std::string& problem) {
  throw Error(ExitCode::usage, fmt::format("extension setting \"{}\" {}", key, problem), std::string(settings_hint));
}

void register_secrets(const nlohmann::json& value) {
  if (value.is_string()) {
    register_secret(value.get<std::string>());
  } else if (value.is_structured()) {
    for (const auto& item : value) register_secrets(item);
  }
}

std::string string_value(const std::string& key, const nlohmann::json& value) {
  if (!value.is_string()) bad_setting(key, fmt::format("must be a string, not {}", value.type_name()));
  auto text = value.get<std::string>();
  if (text.empty()) bad_setting(key, "is empty");
  return text;
}

bool bool_value(const std::string& key, const nlohmann::json& value) {
  if (!value.is_boolean()) bad_setting(key, fmt::format("must be true or false, not {}", value.type_name()));
  return value.get<bool>();
}

// The extension's settings: the one table the parser, the "not known" message and the remedies' wording
// all read (README, "Extension settings", documents each row). A new setting is one row here and its
// field in ExtensionSettings.
const std::vector<SettingSpec>& table() {
  static const std::vector<SettingSpec> rows{
      {"driverVersion", "string", Knob::driver_version, "set \"driverVersion\": \"{}\"", "VERSION",
       [](ExtensionSettings& s, const std::string& k, const nlohmann::json& v) { s.driver_version = string_value(k, v); }},
      {"driverUrl", "string", Knob::driver_url, "set \"driverUrl\" with \"sha256\"", "",
       [](ExtensionSettings& s, const std::string& k, const nlohmann::json& v) { s.driver_url = string_value(k, v); }},
      {"sha256", "string", std::nullopt, "", "",
       [](ExtensionSettings& s, const std::string& k, const nlohmann::json& v) { s.sha256 = string_value(k, v); }},
      {"mirrorUrl", "string or list of strings", std::nullopt, "", "",
       [](ExtensionSettings& s, const std::string& k, const nlohmann::json& v) {
         if (v.is_string()) {
           s.mirror_urls.push_back(string_value(k, v));
         } else if (v.is_array()) {
           for (const auto& item : v) s.mirror_urls.push_back(string_value(k, item));
         } else {
           bad_setting(k, fmt::format("must be a string or a list of strings, not {}", v.type_name()));
         }
       }},
      {"profile", "string", std::nullopt, "", "",
       [](ExtensionSettings& s, const std::string& k, const nlohmann::json& v) { s.profile = string_value(k, v); }},
      {"proxy", "string", std::nullopt, "", "",
       [](ExtensionSettings& s, const std::string& k, const nlohmann::json& v) { s.proxy = string_value(k, v); }},
      {"skipVmbusCheck", "bool", Knob::skip_vmbus_check, "set \"skipVmbusCheck\": true", "",
       [](ExtensionSettings& s, const std::string& k, const nlohmann::json& v) { s.skip_vmbus_check = bool_value(k, v); }},
      {"skipDeviceCheck", "bool", Knob::skip_device_check, "set \"skipDeviceCheck\": true", "",
       [](ExtensionSettings& s, const std::string& k, const nlohmann::json& v) { s.skip_device_check = bool_value(k, v); }},
      {"skipOsCheck", "bool", Knob::skip_os_check, "set \"skipOsCheck\": true", "",
       [](ExtensionSettings& s, const std::string& k, const nlohmann::json& v) { s.skip_os_check = bool_value(k, v); }},
      {"skipVmSizeCheck", "bool", Knob::skip_vm_size_check, "set \"skipVmSizeCheck\": true", "",
       [](ExtensionSettings& s, const std::string& k, const nlohmann::json& v) { s.skip_vm_size_check = bool_value(k, v); }},
      {"ipoib", "bool", std::nullopt, "", "",
       [](ExtensionSettings& s, const std::string& k, const nlohmann::json& v) { s.ipoib = bool_value(k, v); }},
      {"installHeaders", "bool", Knob::install_headers, "set \"installHeaders\": true", "",
       [](ExtensionSettings& s, const std::string& k, const nlohmann::json& v) { s.install_headers = bool_value(k, v); }},
      {"uninstallDrivers", "bool", std::nullopt, "", "",
       [](ExtensionSettings& s, const std::string& k, const nlohmann::json& v) { s.uninstall_drivers = bool_value(k, v); }},
      {"validate", "bool", Knob::skip_validation, "set \"validate\": false", "",
       [](ExtensionSettings& s, const std::string& k, const nlohmann::json& v) { s.validate = bool_value(k, v); }},
      {"rebootIfRequired", "bool", std::nullopt, "", "",
       [](ExtensionSettings& s, const std::string& k, const nlohmann::json& v) { s.reboot_if_required = bool_value(k, v); }},
      {"expectLinkLayer", "\"infiniband\", \"ethernet\" or \"any\"", Knob::expect_link_layer, "set \"expectLinkLayer\": \"{}\"", "any",
       [](ExtensionSettings& s, const std::string& k, const nlohmann::json& v) {
         auto text = string_value(k, v);
         if (!verbs::parse_link_layer(text)) bad_setting(k, "must be \"infiniband\", \"ethernet\" or \"any\"");
         s.expect_link_layer = text;
       }},
      {"catalogUrl", "string (https:// or file:// URL)", Knob::catalog_url, "set \"catalogUrl\": \"{}\"", "https://...",
       [](ExtensionSettings& s, const std::string& k, const nlohmann::json& v) {
         auto url = string_value(k, v);
         if (url.rfind("https://", 0) != 0 && url.rfind("file://", 0) != 0) {
           bad_setting(k, "must be an https:// URL (a catalog is fetched over verified TLS only) or a file:// path");
         }
         s.catalog_url = url;
       }},
      {"catalogKey", "string or list of strings (PEM public key)", Knob::catalog_key,
       "set \"catalogKey\" to the publisher's PEM public key", "",
       [](ExtensionSettings& s, const std::string& k, const nlohmann::json& v) {
         auto add = [&](const nlohmann::json& item) {
           auto pem = string_value(k, item);
           try {
             (void)catalog::trusted_key_from_pem(pem, "the catalogKey setting");
           } catch (const Error& error) {
             bad_setting(k, fmt::format("is not usable: {}", error.what()));
           }
           s.catalog_keys.push_back(pem);
         };
         if (v.is_array()) {
           for (const auto& item : v) add(item);
         } else {
           add(v);
         }
       }},
  };
  return rows;
}

void apply(ExtensionSettings& settings, const std::string& key, const nlohmann::json& value) {
  for (const auto& row : table()) {
    if (row.key == key) {
      row.apply(settings, key, value);
      return;
    }
  }
  std::string known;
  for (const auto& row : table()) known += known.empty() ? std::string(row.key) : fmt::format(", {}", row.key);
  bad_setting(text::printable(key, 80), fmt::format("is not known (known: {})", known));
}

}  // namespace

RuntimeSettings parse_runtime_settings(std::string_view text, const std::filesystem::path& file) {
  RuntimeSettings settings;
  if (text::trim(text).empty()) return settings;  // the agent writes an empty file for no settings
  auto document = nlohmann::json::parse(text, nullptr, false);
  auto broken = [&](const std::string& problem) {
    return Error(ExitCode::usage, fmt::format("settings file {} {}", file.string(), problem), std::string(settings_hint));
  };
  if (document.is_discarded()) throw broken("is not valid JSON");
  if (!document.is_object()) throw broken("is not a JSON object");
  auto runtime = document.find("runtimeSettings");
  if (runtime == document.end() || runtime->is_null()) return settings;
  if (!runtime->is_array()) throw broken("has \"runtimeSettings\" that is not a list");
  if (runtime->empty()) return settings;
  if (runtime->size() > 1) throw broken("has more than one entry in \"runtimeSettings\"");
  const auto& entry = runtime->front();
  if (!entry.is_object()) throw broken("has a \"runtimeSettings\" entry that is not an object");
  auto handler = entry.find("handlerSettings");
  if (handler == entry.end() || handler->is_null()) return settings;
  if (!handler->is_object()) throw broken("has \"handlerSettings\" that is not an object");
  if (auto found = handler->find("publicSettings"); found != handler->end() && !found->is_null()) {
    if (!found->is_object()) throw broken("has \"publicSettings\" that is not an object");
    settings.public_settings = *found;
  }
  if (auto found = handler->find("protectedSettings"); found != handler->end() && !found->is_null()) {
    if (!found->is_string()) throw broken("has \"protectedSettings\" that is not a (base64) string");
    settings.protected_settings = found->get<std::string>();
  }
  if (auto found = handler->find("protectedSettingsCertThumbprint"); found != handler->end() && !found->is_null()) {
    if (!found->is_string()) throw broken("has \"protectedSettingsCertThumbprint\" that is not a string");
    settings.thumbprint = found->get<std::string>();
  }
  if (!settings.protected_settings.empty() && settings.thumbprint.empty()) {
    throw broken("has protected settings but no \"protectedSettingsCertThumbprint\"");
  }
  return settings;
}

RuntimeSettings read_runtime_settings(const std::filesystem::path& file) {
  std::string text;
  try {
    text = read_file(file, max_settings_bytes);
  } catch (const Error&) {
    std::error_code error;
    auto size = std::filesystem::file_size(file, error);
    if (!error && size > max_settings_bytes) {
      throw Error(ExitCode::usage,
                  fmt::format("settings file {} is {} bytes: more than the {} ibdriver reads", file.string(), size, max_settings_bytes),
                  std::string(settings_hint));
    }
    rethrow_with_context(fmt::format("reading the settings file {}", file.string()));
  }
  return parse_runtime_settings(text, file);
}

const std::vector<SettingSpec>& setting_table() { return table(); }

std::string setting_for(const Remedy& remedy) {
  for (const auto& row : table()) {
    if (row.knob != remedy.knob || row.remedy.empty()) continue;
    std::string text(row.remedy);
    if (auto at = text.find("{}"); at != std::string::npos) text.replace(at, 2, remedy.value.empty() ? std::string(row.placeholder) : remedy.value);
    return text;
  }
  return {};
}

ExtensionSettings parse_extension_settings(const nlohmann::json& public_settings, const nlohmann::json& protected_settings) {
  register_secrets(protected_settings);
  ExtensionSettings settings;
  if (!public_settings.is_null() && !public_settings.is_object()) bad_setting("publicSettings", "must be an object");
  if (!protected_settings.is_null() && !protected_settings.is_object()) bad_setting("protectedSettings", "must decrypt to a JSON object");
  if (public_settings.is_object()) {
    for (const auto& [key, value] : public_settings.items()) apply(settings, key, value);
  }
  if (protected_settings.is_object()) {
    for (const auto& [key, value] : protected_settings.items()) {
      if (public_settings.is_object() && public_settings.contains(key)) {
        bad_setting(key, "is in both the public and the protected settings: give it once");
      }
      apply(settings, key, value);
    }
  }
  if (settings.driver_url && !settings.sha256) bad_setting("driverUrl", "needs \"sha256\" (the bundle's SHA-256) beside it");
  if (settings.sha256 && !settings.driver_url) bad_setting("sha256", "only goes with \"driverUrl\"");
  if (settings.driver_url && settings.driver_version) bad_setting("driverVersion", "and \"driverUrl\" exclude each other");
  return settings;
}

}  // namespace ibdriver::extension
