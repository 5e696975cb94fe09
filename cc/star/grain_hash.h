// The hash of a fact grain key (day, product, store, referrer, device
// ordinals): the one definition that the scan's hash tables (through the SIMD
// kernels of cc/etl/fact_columns.h, which must return the same values) and the
// loader's fact checksum share.
//
// Two independent 32-bit multiply-xorshift hashes of the five words, in the
// high and low halves of the result. Pure, thread-safe.
#ifndef PV_STAR_GRAIN_HASH_H_
#define PV_STAR_GRAIN_HASH_H_

#include <cstdint>

namespace pv::star {

// The constants, for vector implementations of the same function.
inline constexpr uint32_t kGrainSeedHigh = 0x243F6A88u;
inline constexpr uint32_t kGrainSeedLow = 0x85A308D3u;
inline constexpr uint32_t kGrainMulHigh = 0xCC9E2D51u;
inline constexpr uint32_t kGrainMulLow = 0x1B873593u;
inline constexpr uint32_t kGrainGolden = 0x9E3779B1u;

// One round: h ^= x * golden; h ^= h >> 15; h *= mul.
inline uint32_t GrainMix(uint32_t h, uint32_t x, uint32_t mul) {
  h ^= x * kGrainGolden;
  h ^= h >> 15;
  return h * mul;
}

// The final avalanche (murmur3's fmix32).
inline uint32_t GrainFinish(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  return h ^ (h >> 16);
}

inline uint64_t HashGrain(int32_t day, uint32_t product, uint32_t store,
                          uint32_t referrer, uint32_t device) {
  uint32_t h1 = kGrainSeedHigh, h2 = kGrainSeedLow;
  for (uint32_t x : {static_cast<uint32_t>(day), product, store, referrer, device}) {
    h1 = GrainMix(h1, x, kGrainMulHigh);
    h2 = GrainMix(h2, x, kGrainMulLow);
  }
  return (static_cast<uint64_t>(GrainFinish(h1)) << 32) | GrainFinish(h2);
}

}  // namespace pv::star

#endif  // PV_STAR_GRAIN_HASH_H_
