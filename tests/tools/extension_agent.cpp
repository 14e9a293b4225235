// extension-agent: the test harness of tests/support/azure_agent.hpp for shell scripts (the chroot
// test and the simulated VM), acting as the Azure guest agent on a Debian root.
//   extension-agent layout ROOT [VERSION]                          lays out the extension folder
//   extension-agent settings ROOT SEQ PUBLIC_JSON [PROTECTED_JSON]   writes <seq>.settings (protected: encrypted)
//   extension-agent run ROOT COMMAND SEQ [KEY=VALUE...]            runs `bin/ibdriver extension COMMAND` chrooted
//   extension-agent wait ROOT SEQ SECONDS                          waits for success/error, checks the shape
// Every command takes --plain-root first to run on a fake root instead of chrooting.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/files.hpp"
#include "support/azure_agent.hpp"

using ibdriver::test::AzureAgent;

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool chroot = true;
  if (!args.empty() && args.front() == "--plain-root") {
    chroot = false;
    args.erase(args.begin());
  }
  if (args.size() < 2) {
    std::fprintf(stderr, "usage: extension-agent [--plain-root] layout|settings|run|wait ROOT ...\n");
    return 1;
  }
  try {
    const auto& command = args[0];
    std::string version = command == "layout" && args.size() > 2 ? args[2] : "0.1.0.0";
    AzureAgent agent(args[1], version, chroot);
    if (command == "layout") {
      fmt::print("{}\n", agent.folder().string());
    } else if (command == "settings" && args.size() >= 4) {
      int sequence = std::stoi(args[2]);
      auto public_settings = nlohmann::json::parse(args[3]);
      if (args.size() > 4) {
        agent.write_settings(sequence, public_settings, nlohmann::json::parse(args[4]), agent.make_certificate());
      } else {
        agent.write_settings(sequence, public_settings);
      }
    } else if (command == "run" && args.size() >= 4) {
      std::vector<std::string> environment(args.begin() + 4, args.end());
      auto result = agent.run(args[2], std::stoi(args[3]), environment, std::chrono::seconds(300));
      std::fputs(result.out.c_str(), stdout);
      std::fputs(result.err.c_str(), stderr);
      return result.timed_out ? 124 : result.exit_status;
    } else if (command == "wait" && args.size() >= 4) {
      auto status = agent.wait_for_final_status(std::stoi(args[2]), std::chrono::seconds(std::stoi(args[3])));
      // The file as written (its key order is part of the check by eye).
      fmt::print("{}\n", ibdriver::read_file_if_exists(agent.status_file(std::stoi(args[2])), 1 << 20).value_or("(no status file)"));
      auto problems = ibdriver::test::status_shape_problems(status);
      if (!problems.empty()) {
        std::fprintf(stderr, "extension-agent: the status file is not in the agent's shape: %s\n", problems.c_str());
        return 3;
      }
      return status[0]["status"]["status"] == "success" ? 0 : 2;
    } else {
      std::fprintf(stderr, "extension-agent: bad arguments for %s\n", command.c_str());
      return 1;
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "extension-agent: %s\n", error.what());
    return 1;
  }
  return 0;
}
