// Command-line parsing shared by every binary: Abseil flags, accepting both
// --max-invalid-ratio and --max_invalid_ratio spellings, with a usage text
// that --help prints above the flag list.
#ifndef PV_COMMON_CLI_H_
#define PV_COMMON_CLI_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace pv {

// Sets the usage message, parses argv (exits with a message on unknown or
// malformed flags, and after printing --help), and returns the positional
// arguments (argv[0] excluded). Dashes inside flag names become underscores.
// Under `bazel run`, changes to the directory the user ran it from
// (BUILD_WORKING_DIRECTORY), so relative paths mean what the user meant.
std::vector<std::string> ParseCommandLine(int argc, char** argv,
                                          absl::string_view usage);

}  // namespace pv

#endif  // PV_COMMON_CLI_H_
