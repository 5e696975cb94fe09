#include "cc/common/cli.h"

#include <unistd.h>

#include <cstdlib>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"

namespace pv {

std::vector<std::string> ParseCommandLine(int argc, char** argv,
                                          absl::string_view usage) {
  absl::SetProgramUsageMessage(usage);
  // Under `bazel run` the binary starts in its runfiles tree; relative paths
  // on the command line mean the user's directory, which Bazel passes here.
  if (const char* dir = std::getenv("BUILD_WORKING_DIRECTORY"); dir != nullptr && *dir) {
    if (::chdir(dir) != 0) {
      // Keep going: absolute paths still work, and relative ones fail with a
      // message naming them.
    }
  }
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size(); ++i) {
    std::string& a = args[i];
    if (a == "--") break;
    if (a.size() < 3 || a[0] != '-' || a[1] != '-') continue;
    size_t end = a.find('=');
    if (end == std::string::npos) end = a.size();
    for (size_t k = 2; k < end; ++k) {
      if (a[k] == '-') a[k] = '_';
    }
  }
  std::vector<char*> ptrs;
  for (std::string& a : args) ptrs.push_back(a.data());
  std::vector<char*> rest =
      absl::ParseCommandLine(static_cast<int>(ptrs.size()), ptrs.data());
  std::vector<std::string> positional;
  for (size_t i = 1; i < rest.size(); ++i) positional.emplace_back(rest[i]);
  return positional;
}

}  // namespace pv
