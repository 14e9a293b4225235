#include "support/tools.hpp"

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace ibdriver::test {

ProcessResult run_ibdriver(std::vector<std::string> arguments, std::vector<std::string> environment) {
  arguments.insert(arguments.begin(), IBDRIVER_BINARY);
  ProcessOptions options;
  options.time_limit = std::chrono::seconds(120);
  options.extra_environment = std::move(environment);
  return run_process(arguments, options);
}

std::string file_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void make_archive(const std::string& kind, const std::filesystem::path& output, const std::vector<std::string>& extra) {
  std::vector<std::string> argv{"python3", std::string(IBDRIVER_TEST_FIXTURES) + "/make_archive.py", kind, output.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto result = run_process(argv);
  if (!result.succeeded()) throw std::runtime_error("cannot build the " + kind + " archive: " + result.err);
}

}  // namespace ibdriver::test
