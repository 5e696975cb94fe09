// Against the real PostgreSQL started by tools/services/postgres.sh
// (PV_PG_CONNINFO, PGPASSWORD in the environment).
#include <cstdlib>
#include <string>

#include "cc/warehouse/copy_binary.h"
#include "cc/warehouse/pg.h"
#include "cc/warehouse/schema.h"
#include "gtest/gtest.h"

namespace pv::warehouse {
namespace {

std::unique_ptr<PgConnection> ConnectOrDie() {
  const char* conninfo = std::getenv("PV_PG_CONNINFO");
  if (conninfo == nullptr) {
    ADD_FAILURE() << "PV_PG_CONNINFO is not set: start tools/services/postgres.sh";
    return nullptr;
  }
  auto conn = PgConnection::Connect(conninfo);
  if (!conn.ok()) {
    ADD_FAILURE() << conn.status();
    return nullptr;
  }
  return std::move(*conn);
}

TEST(PgIntegration, TableRoundTripsThroughBinaryCopy) {
  auto conn = ConnectOrDie();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->Exec("DROP TABLE IF EXISTS pv_roundtrip; "
                         "CREATE TABLE pv_roundtrip (id int, name text, at timestamp)")
                  .ok());
  std::string data;
  CopyBinaryEncoder enc(&data);
  enc.Header();
  for (int i = 0; i < 1000; ++i) {
    enc.StartRow(3);
    enc.Int4(i);
    enc.Text(std::string(i % 50, 'x') + "é");
    enc.TimestampUnix(1700000000 + i);
  }
  enc.Trailer();
  ASSERT_TRUE(conn->CopyIn("COPY pv_roundtrip FROM STDIN (FORMAT binary)", data).ok());
  auto r = conn->Query(
      "SELECT count(*), sum(id), sum(length(name)), "
      "min(extract(epoch from at))::bigint FROM pv_roundtrip");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->GetInt(0, 0), 1000);
  EXPECT_EQ(r->GetInt(0, 1), 999 * 1000 / 2);
  EXPECT_EQ(r->GetInt(0, 3), 1700000000);
  auto out = conn->CopyOut(
      "COPY (SELECT id, name FROM pv_roundtrip WHERE id = 7) TO STDOUT (FORMAT binary)");
  ASSERT_TRUE(out.ok()) << out.status();
  CopyBinaryDecoder dec(*out);
  ASSERT_TRUE(dec.ReadHeader().ok());
  ASSERT_EQ(*dec.NextRow(), 2);
  EXPECT_EQ(*dec.Int4(), 7);
  EXPECT_EQ(*dec.Bytes(), std::string(7, 'x') + "é");
  EXPECT_EQ(*dec.NextRow(), -1);
  EXPECT_TRUE(conn->Exec("DROP TABLE pv_roundtrip").ok());
}

TEST(PgIntegration, ErrorsNameTheStatementAndSqlState) {
  auto conn = ConnectOrDie();
  ASSERT_NE(conn, nullptr);
  absl::Status st = conn->Exec("SELECT * FROM no_such_table_xyz");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("42P01"), std::string::npos) << st;
  EXPECT_NE(st.message().find("no_such_table_xyz"), std::string::npos) << st;
}

TEST(PgIntegration, WrongPasswordIsAClearErrorWithoutThePassword) {
  const char* conninfo = std::getenv("PV_PG_CONNINFO");
  ASSERT_NE(conninfo, nullptr);
  std::string bad = std::string(conninfo) + " password=WrongSecret123";
  auto conn = PgConnection::Connect(bad);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), absl::StatusCode::kPermissionDenied)
      << conn.status();
  EXPECT_EQ(conn.status().message().find("WrongSecret123"), std::string::npos);
}

TEST(PgIntegration, MigrationsAreIdempotent) {
  auto conn = ConnectOrDie();
  ASSERT_NE(conn, nullptr);
  auto first = Migrate(conn.get());
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = Migrate(conn.get());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, 0);
  auto r = conn->Query("SELECT max(version) FROM pv_schema_version");
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(Migrations().empty());
  EXPECT_EQ(r->GetInt(0, 0), Migrations().back().version);
  auto unknown = conn->Query(
      "SELECT product_id, product_name FROM dim_product WHERE product_key = 0");
  ASSERT_TRUE(unknown.ok());
  ASSERT_EQ(unknown->rows(), 1);
  EXPECT_EQ(unknown->Get(0, 1), "Unknown");
}

}  // namespace
}  // namespace pv::warehouse
