#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/remedy.hpp"

namespace ibdriver::extension {

// One <seq>.settings file as the agent writes it.
struct RuntimeSettings {
  nlohmann::json public_settings = nlohmann::json::object();
  std::string protected_settings;  // base64 of DER CMS enveloped data; empty when none
  std::string thumbprint;          // of the certificate it was encrypted for
};

// The settings file can be at most this large; anything bigger is refused (exit 1), never read whole.
constexpr std::size_t max_settings_bytes = 256 * 1024;

// Parses <configFolder>/<seq>.settings. Throws Error (usage) naming the file and what is wrong.
RuntimeSettings parse_runtime_settings(std::string_view text, const std::filesystem::path& file);
RuntimeSettings read_runtime_settings(const std::filesystem::path& file);

// What a user can set, publicly or in protected settings (documented in the README). Every key is
// optional; an unknown key or a wrong type is exit 1 naming the key.
struct ExtensionSettings {
  std::optional<std::string> driver_version;  // driverVersion
  std::optional<std::string> driver_url;      // driverUrl (needs sha256)
  std::optional<std::string> sha256;          // sha256
  std::vector<std::string> mirror_urls;       // mirrorUrl: a string or a list of strings
  std::optional<std::string> profile;         // profile
  std::optional<std::string> proxy;           // proxy
  bool skip_vmbus_check = false;              // skipVmbusCheck
  bool skip_device_check = false;             // skipDeviceCheck
  bool skip_os_check = false;                 // skipOsCheck
  bool skip_vm_size_check = false;            // skipVmSizeCheck
  std::optional<bool> ipoib;                  // ipoib
  bool install_headers = false;               // installHeaders: bring missing kernel headers with the package manager
  bool uninstall_drivers = false;             // uninstallDrivers: remove the drivers when the extension is removed
  bool validate = true;                       // validate: check with libibverbs at the end
  bool reboot_if_required = false;            // rebootIfRequired: reboot once when the installed driver is not the running one
  std::optional<std::string> expect_link_layer;  // expectLinkLayer: infiniband (default), ethernet, any
  std::optional<std::string> catalog_url;     // catalogUrl: the signed catalog channel, updated before planning
  std::vector<std::string> catalog_keys;      // catalogKey: publishers' PEM public keys, trusted besides the built-in ones
};

// One row of the settings table (settings.cpp: the one place a setting is defined): its key, the type
// the README states, the remedy it applies (an error's Knob, worded as the setting) and how it is parsed
// into ExtensionSettings (Error, usage, naming the key on a wrong type or value).
struct SettingSpec {
  std::string_view key;
  std::string_view type;
  std::optional<Knob> knob;      // the remedy this setting applies, if any
  std::string_view remedy;       // its wording, "{}" standing for the remedy's value
  std::string_view placeholder;  // the value shown when the remedy carries none
  void (*apply)(ExtensionSettings& settings, const std::string& key, const nlohmann::json& value);
};
const std::vector<SettingSpec>& setting_table();

// A remedy worded as the setting that applies it (`set "skipVmbusCheck": true`); empty when no setting
// reaches that knob (the message then says what to change in words).
std::string setting_for(const Remedy& remedy);

// Public and (decrypted) protected settings together; a key may appear in only one of them. Every
// string in the protected settings is registered as a secret (core/secrets.hpp) before anything else
// happens with it.
ExtensionSettings parse_extension_settings(const nlohmann::json& public_settings, const nlohmann::json& protected_settings);

}  // namespace ibdriver::extension
