// Prints the versions of the libraries this build links, so a user can check
// in one command that the offline toolchain and the system libraries work.
#include <cstdio>

#include <libpq-fe.h>
#include <lz4.h>
#include <mongoc/mongoc.h>
#include <oneapi/tbb/version.h>
#include <zstd.h>

#include "absl/strings/str_format.h"
#include "cc/kafka/kafka.h"
#include "simdjson.h"

int main() {
  absl::PrintF("productview pipeline\n");
  absl::PrintF("  librdkafka %s\n", pv::kafka::LibraryVersion().c_str());
  absl::PrintF("  libpq      %d\n", PQlibVersion());
  absl::PrintF("  mongoc     %s\n", mongoc_get_version());
  absl::PrintF("  simdjson   kernel %s\n",
               simdjson::get_active_implementation()->name());
  absl::PrintF("  oneTBB     %s\n", TBB_VERSION_STRING);
  absl::PrintF("  zstd       %s\n", ZSTD_versionString());
  absl::PrintF("  lz4        %s\n", LZ4_versionString());
  return 0;
}
