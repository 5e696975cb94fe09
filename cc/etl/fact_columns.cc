// Highway dynamic dispatch: this file is compiled once per target ISA by
// re-including itself through foreach_target.h.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cc/etl/fact_columns.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include "cc/etl/fact_columns.h"
#include "cc/star/grain_hash.h"

HWY_BEFORE_NAMESPACE();
namespace pv::etl {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// One round of the 32-bit mixer, on vectors: star::GrainMix lane by lane.
template <class D, class V>
HWY_INLINE V MixVec(D d, V h, V x, uint32_t mul) {
  h = hn::Xor(h, hn::Mul(x, hn::Set(d, star::kGrainGolden)));
  h = hn::Xor(h, hn::ShiftRight<15>(h));
  h = hn::Mul(h, hn::Set(d, mul));
  return h;
}

template <class D, class V>
HWY_INLINE V FinishVec(D d, V h) {
  h = hn::Xor(h, hn::ShiftRight<16>(h));
  h = hn::Mul(h, hn::Set(d, 0x85EBCA6Bu));
  h = hn::Xor(h, hn::ShiftRight<13>(h));
  h = hn::Mul(h, hn::Set(d, 0xC2B2AE35u));
  return hn::Xor(h, hn::ShiftRight<16>(h));
}

void HashGrainsImpl(const GrainColumns& cols, size_t n, uint64_t* out) {
  const hn::ScalableTag<uint32_t> d;
  const size_t lanes = hn::Lanes(d);
  HWY_ALIGN uint32_t hi[hn::MaxLanes(d)];
  HWY_ALIGN uint32_t lo[hn::MaxLanes(d)];
  const uint32_t* day = reinterpret_cast<const uint32_t*>(cols.day);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    auto a = hn::LoadU(d, day + i);
    auto b = hn::LoadU(d, cols.product + i);
    auto c = hn::LoadU(d, cols.store + i);
    auto e = hn::LoadU(d, cols.referrer + i);
    auto f = hn::LoadU(d, cols.device + i);
    auto h1 = hn::Set(d, star::kGrainSeedHigh);
    auto h2 = hn::Set(d, star::kGrainSeedLow);
    h1 = MixVec(d, h1, a, star::kGrainMulHigh);
    h2 = MixVec(d, h2, a, star::kGrainMulLow);
    h1 = MixVec(d, h1, b, star::kGrainMulHigh);
    h2 = MixVec(d, h2, b, star::kGrainMulLow);
    h1 = MixVec(d, h1, c, star::kGrainMulHigh);
    h2 = MixVec(d, h2, c, star::kGrainMulLow);
    h1 = MixVec(d, h1, e, star::kGrainMulHigh);
    h2 = MixVec(d, h2, e, star::kGrainMulLow);
    h1 = MixVec(d, h1, f, star::kGrainMulHigh);
    h2 = MixVec(d, h2, f, star::kGrainMulLow);
    hn::Store(FinishVec(d, h1), d, hi);
    hn::Store(FinishVec(d, h2), d, lo);
    for (size_t k = 0; k < lanes; ++k) {
      out[i + k] = (static_cast<uint64_t>(hi[k]) << 32) | lo[k];
    }
  }
  for (; i < n; ++i) {
    out[i] = star::HashGrain(cols.day[i], cols.product[i], cols.store[i],
                       cols.referrer[i], cols.device[i]);
  }
}

size_t SelectFactRowsImpl(const int32_t* day, const uint32_t* product,
                          size_t n, int32_t lo, int32_t hi, uint32_t* out) {
  const hn::ScalableTag<int32_t> di;
  const hn::ScalableTag<uint32_t> du;
  const size_t lanes = hn::Lanes(di);
  const auto vlo = hn::Set(di, lo);
  const auto vhi = hn::Set(di, hi);
  const auto zero = hn::Zero(du);
  auto index = hn::Iota(du, 0);
  const auto step = hn::Set(du, static_cast<uint32_t>(lanes));
  size_t count = 0;
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    auto vd = hn::LoadU(di, day + i);
    auto vp = hn::LoadU(du, product + i);
    // Highway 1.0 has no Ge/Le for signed lanes: select "not outside".
    auto outside = hn::Or(hn::Lt(vd, vlo), hn::Gt(vd, vhi));
    auto has_product = hn::Ne(vp, zero);
    auto keep = hn::AndNot(hn::RebindMask(du, outside), has_product);
    count += hn::CompressStore(index, keep, du, out + count);
    index = hn::Add(index, step);
  }
  for (; i < n; ++i) {
    if (day[i] >= lo && day[i] <= hi && product[i] != 0) {
      out[count++] = static_cast<uint32_t>(i);
    }
  }
  return count;
}

int32_t MaxDayImpl(const int32_t* day, size_t n) {
  const hn::ScalableTag<int32_t> d;
  const size_t lanes = hn::Lanes(d);
  auto m = hn::Set(d, INT32_MIN);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) m = hn::Max(m, hn::LoadU(d, day + i));
  int32_t best = hn::GetLane(hn::MaxOfLanes(d, m));
  for (; i < n; ++i) best = day[i] > best ? day[i] : best;
  return best;
}

}  // namespace HWY_NAMESPACE
}  // namespace pv::etl
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <climits>
#include <cstdlib>
#include <cstring>

#include "hwy/targets.h"

namespace pv::etl {

HWY_EXPORT(HashGrainsImpl);
HWY_EXPORT(SelectFactRowsImpl);
HWY_EXPORT(MaxDayImpl);

namespace {

bool ForceScalar() {
  static const bool force = [] {
    const char* env = std::getenv("PV_SIMD");
    return env != nullptr && std::strcmp(env, "scalar") == 0;
  }();
  return force;
}

}  // namespace

void HashGrainsScalar(const GrainColumns& cols, size_t n, uint64_t* out) {
  for (size_t i = 0; i < n; ++i) {
    out[i] = star::HashGrain(cols.day[i], cols.product[i], cols.store[i],
                       cols.referrer[i], cols.device[i]);
  }
}

size_t SelectFactRowsScalar(const int32_t* day, const uint32_t* product,
                            size_t n, int32_t lo, int32_t hi, uint32_t* out) {
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) {
    // Branch-free: always store, advance only on a match.
    out[count] = static_cast<uint32_t>(i);
    count += (day[i] >= lo) & (day[i] <= hi) & (product[i] != 0);
  }
  return count;
}

int32_t MaxDayScalar(const int32_t* day, size_t n) {
  int32_t best = INT32_MIN;
  for (size_t i = 0; i < n; ++i) best = day[i] > best ? day[i] : best;
  return best;
}

void HashGrains(const GrainColumns& cols, size_t n, uint64_t* out) {
  if (ForceScalar()) return HashGrainsScalar(cols, n, out);
  HWY_DYNAMIC_DISPATCH(HashGrainsImpl)(cols, n, out);
}

size_t SelectFactRows(const int32_t* day, const uint32_t* product, size_t n,
                      int32_t lo, int32_t hi, uint32_t* out) {
  if (ForceScalar()) return SelectFactRowsScalar(day, product, n, lo, hi, out);
  return HWY_DYNAMIC_DISPATCH(SelectFactRowsImpl)(day, product, n, lo, hi, out);
}

int32_t MaxDay(const int32_t* day, size_t n) {
  if (ForceScalar()) return MaxDayScalar(day, n);
  return HWY_DYNAMIC_DISPATCH(MaxDayImpl)(day, n);
}

const char* ActiveKernelName() {
  if (ForceScalar()) return "scalar";
  return hwy::TargetName(hwy::SupportedAndGeneratedTargets()[0]);
}

}  // namespace pv::etl
#endif  // HWY_ONCE
