#include "cc/warehouse/natural_key.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "cc/common/status.h"
#include "cc/common/threads.h"

namespace pv::warehouse {

// The algorithm and the context, freed with the last copy of the digester.
struct NaturalKeyDigester::Handles {
  EVP_MD* md = nullptr;
  EVP_MD_CTX* ctx = nullptr;
  ~Handles() {
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
  }
};

absl::StatusOr<NaturalKeyDigester> NaturalKeyDigester::Create() {
  auto h = std::make_shared<Handles>();
  h->md = EVP_MD_fetch(nullptr, "MD5", nullptr);
  h->ctx = EVP_MD_CTX_new();
  if (h->md == nullptr || h->ctx == nullptr) {
    return absl::FailedPreconditionError(
        "OpenSSL provides no MD5 here (a FIPS-only configuration?): the warehouse "
        "identifies dimension members by md5(natural key)");
  }
  return NaturalKeyDigester(std::move(h));
}

NaturalKeyDigest NaturalKeyDigester::Digest(absl::string_view key) {
  NaturalKeyDigest out{};
  unsigned int length = 0;
  // Cannot fail once MD5 was fetched and the context allocated (a
  // fixed-size digest allocates nothing more).
  (void)EVP_DigestInit_ex2(h_->ctx, h_->md, nullptr);
  (void)EVP_DigestUpdate(h_->ctx, key.data(), key.size());
  (void)EVP_DigestFinal_ex(h_->ctx, out.data(), &length);
  return out;
}

absl::StatusOr<std::vector<NaturalKeyDigest>> DigestNaturalKeys(
    const std::vector<std::string>& keys, int threads) {
  std::vector<NaturalKeyDigest> out(keys.size());
  // Below this many keys a thread costs more than it saves.
  constexpr size_t kPerThread = 16384;
  const size_t n = std::max<size_t>(
      1, std::min<size_t>(static_cast<size_t>(std::max(threads, 1)), keys.size() / kPerThread));
  std::vector<NaturalKeyDigester> digesters;
  for (size_t t = 0; t < n; ++t) {
    PV_ASSIGN_OR_RETURN(NaturalKeyDigester d, NaturalKeyDigester::Create());
    digesters.push_back(std::move(d));
  }
  RunOnThreads(static_cast<int>(n), [&](int t) {
    for (size_t i = t; i < keys.size(); i += n) out[i] = digesters[t].Digest(keys[i]);
  });
  return out;
}

// The first 8 bytes as one big-endian integer, zero-padded: a key that is
// a prefix of another ties with it and the full comparison decides.
void SortByNaturalKey(const std::vector<std::string>& naturals, std::vector<uint32_t>* ords) {
  struct Item {
    uint64_t prefix;
    uint32_t ord;
  };
  std::vector<Item> items(ords->size());
  for (size_t j = 0; j < ords->size(); ++j) {
    const std::string& k = naturals[(*ords)[j]];
    unsigned char b[8] = {0};
    std::memcpy(b, k.data(), std::min<size_t>(8, k.size()));
    uint64_t p = 0;
    for (unsigned char c : b) p = (p << 8) | c;
    items[j] = {p, (*ords)[j]};
  }
  std::sort(items.begin(), items.end(), [&](const Item& a, const Item& b) {
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return naturals[a.ord] < naturals[b.ord];
  });
  for (size_t j = 0; j < items.size(); ++j) (*ords)[j] = items[j].ord;
}

}  // namespace pv::warehouse
