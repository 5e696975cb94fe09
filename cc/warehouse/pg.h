// A PostgreSQL client connection (libpq) with errors as absl::Status.
//
//   PV_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(conninfo));
//   PV_RETURN_IF_ERROR(conn->Exec("BEGIN"));
//   PV_ASSIGN_OR_RETURN(PgResult r, conn->Query("SELECT max(date_key) FROM dim_date"));
//   PV_RETURN_IF_ERROR(conn->CopyIn("COPY t FROM STDIN (FORMAT binary)", data));
//
// Errors carry PostgreSQL's message, SQLSTATE and the statement's first line;
// never the connection string or a password. Not thread-safe: one connection
// per thread.
#ifndef PV_WAREHOUSE_PG_H_
#define PV_WAREHOUSE_PG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct pg_conn;
struct pg_result;

namespace pv::warehouse {

// Owns a PGresult. Values are text (the default result format).
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(pg_result* result);
  PgResult(PgResult&& other) noexcept;
  PgResult& operator=(PgResult&& other) noexcept;
  ~PgResult();

  int rows() const;
  int columns() const;
  bool IsNull(int row, int column) const;
  // The text of a value; empty for NULL. Valid while this PgResult lives.
  absl::string_view Get(int row, int column) const;
  // The value parsed as an integer; 0 for NULL or non-numeric text.
  int64_t GetInt(int row, int column) const;
  pg_result* get() const { return result_; }

 private:
  pg_result* result_ = nullptr;
};

class PgConnection {
 public:
  // Connects with a libpq conninfo string or URI; empty means libpq's own
  // defaults and PG* environment variables. The password should come from
  // PGPASSWORD or a passfile, not the conninfo. Errors name host and port
  // only. Unless the conninfo says otherwise: TCP keepalives (idle 30 s,
  // then 3 probes 10 s apart) and tcp_user_timeout 120 s, so that a server
  // or network gone silent ends a statement with an error instead of a
  // hang; connect_timeout 15 s; application_name "pv-<program>" (LogTag).
  static absl::StatusOr<std::unique_ptr<PgConnection>> Connect(
      const std::string& conninfo);
  ~PgConnection();

  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one or more statements that return no rows.
  absl::Status Exec(absl::string_view sql);
  // Runs one statement with text parameters ($1, $2, ...) and returns its rows.
  absl::StatusOr<PgResult> Query(absl::string_view sql,
                                 const std::vector<std::string>& params = {});
  // The same with parameters in PostgreSQL's binary format (the SQL names
  // their types, e.g. $1::uuid[]): no text to parse for large arrays.
  absl::StatusOr<PgResult> QueryBinaryParams(absl::string_view sql,
                                             const std::vector<std::string>& params);

  // COPY ... FROM STDIN: `produce` is called repeatedly with a buffer to fill
  // (cleared before each call) and returns false when there is no more data,
  // or an error status to abort the COPY (the server then rolls it back).
  using CopyProducer = std::function<absl::StatusOr<bool>(std::string* chunk)>;
  absl::Status CopyIn(absl::string_view copy_sql, const CopyProducer& produce);
  // COPY ... FROM STDIN of one buffer.
  absl::Status CopyIn(absl::string_view copy_sql, absl::string_view data);
  // COPY ... TO STDOUT: returns the whole output.
  absl::StatusOr<std::string> CopyOut(absl::string_view copy_sql);

  // `ident` quoted by libpq (PQescapeIdentifier) for use in SQL text.
  absl::StatusOr<std::string> EscapeIdentifier(absl::string_view ident) const;
  // set_config(name, value, is_local): a setting for the session, or (local)
  // for the current transaction only, with the value as a parameter.
  absl::Status SetConfig(absl::string_view name, absl::string_view value, bool local);

  // The server's backend process id (for tests that kill a load mid-way).
  int BackendPid() const;
  // host:port of the connection, for messages.
  std::string Describe() const;

 private:
  explicit PgConnection(pg_conn* conn) : conn_(conn) {}
  absl::Status ResultStatus(pg_result* result, absl::string_view sql) const;

  pg_conn* conn_;
};

// The connection string of a stage, first match wins: `flag` (a conninfo or
// URI); libpq's own environment when any of PGHOST, PGPORT, PGDATABASE,
// PGSERVICE is set (returns "": libpq reads PG* itself); else the seed's
// POSTGRES_HOST (localhost), POSTGRES_PORT (5432), POSTGRES_USER
// (postgres), POSTGRES_DB (postgres), with POSTGRES_PASSWORD (literal or
// @file) exported as PGPASSWORD when that is unset, so that the password
// never enters the conninfo. *source says which ("flag", "env PG*", "env
// POSTGRES_*"). A `flag` holding a password (password=..., or a URI's
// user:password@) is refused: argv is visible to every user of the machine.
absl::StatusOr<std::string> ResolveConnInfo(const std::string& flag, std::string* source);


}  // namespace pv::warehouse

#endif  // PV_WAREHOUSE_PG_H_
