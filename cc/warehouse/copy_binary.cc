#include "cc/warehouse/copy_binary.h"

#include "absl/strings/str_cat.h"

namespace pv::warehouse {
namespace {
constexpr char kSignature[] = "PGCOPY\n\377\r\n";  // 11 bytes with the NUL
constexpr size_t kSignatureSize = 11;
}  // namespace

std::string BinaryUuidArray(const std::vector<std::array<uint8_t, 16>>& values) {
  constexpr uint32_t kUuidOid = 2950;  // pg_type.oid of uuid
  std::string out;
  out.reserve(20 + values.size() * 20);
  CopyBinaryEncoder e(&out);
  e.Raw32(1);  // dimensions
  e.Raw32(0);  // no NULLs
  e.Raw32(kUuidOid);
  e.Raw32(static_cast<uint32_t>(values.size()));
  e.Raw32(1);  // lower bound
  for (const auto& v : values) e.Uuid(v);
  return out;
}

void CopyBinaryEncoder::Header() {
  out_->append(kSignature, kSignatureSize);
  Raw32(0);  // flags: no OIDs
  Raw32(0);  // header extension length
}

absl::StatusOr<uint32_t> CopyBinaryDecoder::U32() {
  if (data_.size() - pos_ < 4) {
    return absl::DataLossError(
        absl::StrCat("binary COPY data truncated at byte ", pos_));
  }
  uint32_t v;
  std::memcpy(&v, data_.data() + pos_, 4);
  pos_ += 4;
  return __builtin_bswap32(v);
}

absl::Status CopyBinaryDecoder::ReadHeader() {
  if (data_.size() < kSignatureSize + 8 ||
      data_.substr(0, kSignatureSize) !=
          absl::string_view(kSignature, kSignatureSize)) {
    return absl::DataLossError("binary COPY data: bad signature");
  }
  pos_ = kSignatureSize;
  auto flags = U32();
  auto ext = U32();
  if (!flags.ok() || !ext.ok() || data_.size() - pos_ < *ext) {
    return absl::DataLossError("binary COPY data: bad header");
  }
  pos_ += *ext;
  return absl::OkStatus();
}

absl::StatusOr<int> CopyBinaryDecoder::NextRow() {
  if (data_.size() - pos_ < 2) {
    return absl::DataLossError(
        absl::StrCat("binary COPY data truncated at byte ", pos_));
  }
  int16_t n = static_cast<int16_t>(
      (static_cast<uint8_t>(data_[pos_]) << 8) |
      static_cast<uint8_t>(data_[pos_ + 1]));
  pos_ += 2;
  return n < 0 ? -1 : n;
}

absl::StatusOr<int32_t> CopyBinaryDecoder::FieldLength() {
  auto len = U32();
  if (!len.ok()) return len.status();
  return static_cast<int32_t>(*len);
}

absl::StatusOr<int32_t> CopyBinaryDecoder::Int4() {
  auto len = FieldLength();
  if (!len.ok()) return len.status();
  if (*len != 4) {
    return absl::DataLossError(
        absl::StrCat("binary COPY: expected int4 at byte ", pos_));
  }
  auto v = U32();
  if (!v.ok()) return v.status();
  return static_cast<int32_t>(*v);
}

absl::StatusOr<int64_t> CopyBinaryDecoder::Int8() {
  auto len = FieldLength();
  if (!len.ok()) return len.status();
  if (*len != 8) {
    return absl::DataLossError(
        absl::StrCat("binary COPY: expected int8 at byte ", pos_));
  }
  auto hi = U32();
  auto lo = U32();
  if (!hi.ok() || !lo.ok()) return absl::DataLossError("binary COPY truncated");
  return static_cast<int64_t>((static_cast<uint64_t>(*hi) << 32) | *lo);
}

absl::StatusOr<absl::string_view> CopyBinaryDecoder::Bytes(bool* is_null) {
  auto len = FieldLength();
  if (!len.ok()) return len.status();
  if (is_null != nullptr) *is_null = *len < 0;
  if (*len < 0) return absl::string_view();
  if (data_.size() - pos_ < static_cast<size_t>(*len)) {
    return absl::DataLossError(
        absl::StrCat("binary COPY data truncated at byte ", pos_));
  }
  absl::string_view v = data_.substr(pos_, *len);
  pos_ += *len;
  return v;
}

}  // namespace pv::warehouse
