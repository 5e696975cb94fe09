#include "cc/warehouse/pg.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "cc/common/config.h"
#include "cc/common/logging.h"
#include "cc/common/status.h"

namespace pv::warehouse {
namespace {

// The first line of a statement, shortened, to name it in errors.
std::string StatementHint(absl::string_view sql) {
  sql = absl::StripLeadingAsciiWhitespace(sql);
  size_t nl = sql.find('\n');
  if (nl != absl::string_view::npos) sql = sql.substr(0, nl);
  if (sql.size() > 80) return absl::StrCat(sql.substr(0, 77), "...");
  return std::string(sql);
}

absl::StatusCode CodeForSqlState(absl::string_view state) {
  if (state.substr(0, 2) == "08") return absl::StatusCode::kUnavailable;
  if (state == "57P01" || state == "57P02" || state == "57P03")
    return absl::StatusCode::kUnavailable;  // admin shutdown, crash
  if (state.substr(0, 2) == "28") return absl::StatusCode::kPermissionDenied;
  if (state == "23505") return absl::StatusCode::kAlreadyExists;
  if (state.substr(0, 2) == "22" || state.substr(0, 2) == "23")
    return absl::StatusCode::kInvalidArgument;
  if (state.substr(0, 2) == "42") return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kInternal;
}

std::string TrimMessage(const char* msg) {
  return std::string(absl::StripTrailingAsciiWhitespace(msg ? msg : ""));
}

}  // namespace

PgResult::PgResult(pg_result* result) : result_(result) {}
PgResult::PgResult(PgResult&& other) noexcept
    : result_(std::exchange(other.result_, nullptr)) {}
PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}
PgResult::~PgResult() {
  if (result_ != nullptr) PQclear(result_);
}
int PgResult::rows() const { return result_ ? PQntuples(result_) : 0; }
int PgResult::columns() const { return result_ ? PQnfields(result_) : 0; }
bool PgResult::IsNull(int row, int column) const {
  return PQgetisnull(result_, row, column) != 0;
}
absl::string_view PgResult::Get(int row, int column) const {
  if (IsNull(row, column)) return {};
  return absl::string_view(PQgetvalue(result_, row, column),
                           PQgetlength(result_, row, column));
}
int64_t PgResult::GetInt(int row, int column) const {
  int64_t v = 0;
  if (!absl::SimpleAtoi(Get(row, column), &v)) return 0;
  return v;
}

absl::StatusOr<std::unique_ptr<PgConnection>> PgConnection::Connect(
    const std::string& conninfo) {
  // Defaults first: the conninfo (expanded in place of dbname) overrides them.
  const std::string application = absl::StrCat("pv-", LogTag().empty() ? "client" : LogTag());
  const char* keywords[] = {"keepalives",     "keepalives_idle",  "keepalives_interval",
                            "keepalives_count", "tcp_user_timeout", "connect_timeout",
                            "application_name", "dbname",         nullptr};
  const char* values[] = {"1",   "30", "10", "3", "120000", "15", application.c_str(),
                          conninfo.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) {
    return absl::ResourceExhaustedError("PostgreSQL: out of memory");
  }
  std::unique_ptr<PgConnection> result(new PgConnection(conn));
  if (PQstatus(conn) != CONNECTION_OK) {
    // libpq's message names host/port and the reason; it never echoes the
    // password.
    std::string message = TrimMessage(PQerrorMessage(conn));
    absl::StatusCode code = absl::StrContains(message, "password") ||
                                    absl::StrContains(message, "authentication")
                                ? absl::StatusCode::kPermissionDenied
                                : absl::StatusCode::kUnavailable;
    return absl::Status(code, absl::StrCat("cannot connect to PostgreSQL (",
                                           result->Describe(), "): ", message));
  }
  // Quiet NOTICEs (e.g. "relation already exists, skipping").
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return result;
}

PgConnection::~PgConnection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

std::string PgConnection::Describe() const {
  const char* host = PQhost(conn_);
  const char* port = PQport(conn_);
  const char* db = PQdb(conn_);
  return absl::StrCat(host ? host : "?", ":", port ? port : "?", "/",
                      db ? db : "?");
}

int PgConnection::BackendPid() const { return PQbackendPID(conn_); }

absl::StatusOr<std::string> PgConnection::EscapeIdentifier(absl::string_view ident) const {
  char* quoted = PQescapeIdentifier(conn_, ident.data(), ident.size());
  if (quoted == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PostgreSQL ", Describe(), ": cannot quote identifier: ",
        TrimMessage(PQerrorMessage(conn_))));
  }
  std::string out = quoted;
  PQfreemem(quoted);
  return out;
}

absl::Status PgConnection::SetConfig(absl::string_view name, absl::string_view value,
                                     bool local) {
  return Query("SELECT set_config($1, $2, $3)",
               {std::string(name), std::string(value), local ? "true" : "false"})
      .status();
}

absl::Status PgConnection::ResultStatus(PGresult* result,
                                        absl::string_view sql) const {
  ExecStatusType st =
      result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ||
      st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_EMPTY_QUERY) {
    return absl::OkStatus();
  }
  std::string message;
  absl::StatusCode code = absl::StatusCode::kInternal;
  if (result != nullptr) {
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    message = TrimMessage(PQresultErrorMessage(result));
    if (state != nullptr) {
      code = CodeForSqlState(state);
      absl::StrAppend(&message, " [SQLSTATE ", state, "]");
    }
  } else {
    message = TrimMessage(PQerrorMessage(conn_));
  }
  if (PQstatus(conn_) != CONNECTION_OK) code = absl::StatusCode::kUnavailable;
  return absl::Status(code, absl::StrCat("PostgreSQL ", Describe(), ": ",
                                         message, " (in: ", StatementHint(sql),
                                         ")"));
}

absl::Status PgConnection::Exec(absl::string_view sql) {
  std::string s(sql);
  PgResult result(PQexec(conn_, s.c_str()));
  return ResultStatus(result.get(), sql);
}

absl::StatusOr<PgResult> PgConnection::Query(
    absl::string_view sql, const std::vector<std::string>& params) {
  std::string s(sql);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& p : params) values.push_back(p.c_str());
  PgResult result(PQexecParams(conn_, s.c_str(), static_cast<int>(values.size()),
                               nullptr, values.data(), nullptr, nullptr, 0));
  absl::Status status = ResultStatus(result.get(), sql);
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<PgResult> PgConnection::QueryBinaryParams(
    absl::string_view sql, const std::vector<std::string>& params) {
  std::string s(sql);
  std::vector<const char*> values;
  std::vector<int> lengths, formats(params.size(), 1);
  for (const std::string& p : params) {
    values.push_back(p.data());
    lengths.push_back(static_cast<int>(p.size()));
  }
  PgResult result(PQexecParams(conn_, s.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), lengths.data(), formats.data(), 0));
  absl::Status status = ResultStatus(result.get(), sql);
  if (!status.ok()) return status;
  return result;
}

absl::Status PgConnection::CopyIn(absl::string_view copy_sql,
                                  const CopyProducer& produce) {
  std::string s(copy_sql);
  {
    PgResult start(PQexec(conn_, s.c_str()));
    if (PQresultStatus(start.get()) != PGRES_COPY_IN) {
      absl::Status st = ResultStatus(start.get(), copy_sql);
      if (st.ok()) st = absl::InternalError("COPY did not start");
      return st;
    }
  }
  std::string chunk;
  absl::Status abort_reason;
  while (true) {
    chunk.clear();
    absl::StatusOr<bool> more = produce(&chunk);
    if (!more.ok()) {
      abort_reason = more.status();
      break;
    }
    if (!chunk.empty() &&
        PQputCopyData(conn_, chunk.data(), static_cast<int>(chunk.size())) != 1) {
      break;  // The connection failed; the result below says why.
    }
    if (!*more) break;
  }
  std::string abort_text(abort_reason.message());
  PQputCopyEnd(conn_, abort_reason.ok() ? nullptr : abort_text.c_str());
  absl::Status status;
  while (PGresult* r = PQgetResult(conn_)) {
    PgResult result(r);
    if (status.ok()) status = ResultStatus(r, copy_sql);
  }
  if (!abort_reason.ok()) return abort_reason;
  if (status.ok() && PQstatus(conn_) != CONNECTION_OK) {
    status = absl::UnavailableError(absl::StrCat(
        "PostgreSQL ", Describe(), ": connection lost during COPY: ",
        TrimMessage(PQerrorMessage(conn_))));
  }
  return status;
}

absl::Status PgConnection::CopyIn(absl::string_view copy_sql,
                                  absl::string_view data) {
  constexpr size_t kChunk = 1 << 20;
  size_t pos = 0;
  return CopyIn(copy_sql, [&](std::string* chunk) -> absl::StatusOr<bool> {
    size_t n = std::min(kChunk, data.size() - pos);
    chunk->assign(data.data() + pos, n);
    pos += n;
    return pos < data.size();
  });
}

absl::StatusOr<std::string> PgConnection::CopyOut(absl::string_view copy_sql) {
  std::string s(copy_sql);
  {
    PgResult start(PQexec(conn_, s.c_str()));
    if (PQresultStatus(start.get()) != PGRES_COPY_OUT) {
      absl::Status st = ResultStatus(start.get(), copy_sql);
      if (st.ok()) st = absl::InternalError("COPY TO did not start");
      return st;
    }
  }
  std::string out;
  while (true) {
    char* buf = nullptr;
    int n = PQgetCopyData(conn_, &buf, 0);
    if (n > 0) {
      out.append(buf, n);
      PQfreemem(buf);
      continue;
    }
    break;  // -1 done, -2 error: the result says which.
  }
  absl::Status status;
  while (PGresult* r = PQgetResult(conn_)) {
    PgResult result(r);
    if (status.ok()) status = ResultStatus(r, copy_sql);
  }
  if (!status.ok()) return status;
  return out;
}

// --pg, else libpq's own PG* environment, else the seed's POSTGRES_* names.
// The password never goes into the conninfo: libpq reads PGPASSWORD.
absl::StatusOr<std::string> ResolveConnInfo(const std::string& flag, std::string* source) {
  const std::string& pg = flag;
  if (!pg.empty()) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(pg.c_str(), &error);
    if (options == nullptr) {
      // libpq's message may quote part of the string: never shown.
      if (error != nullptr) PQfreemem(error);
      return absl::InvalidArgumentError(
          "--pg is not a valid libpq connection string or URI (not shown: it may hold a "
          "secret); see https://www.postgresql.org/docs/current/libpq-connect.html");
    }
    bool has_password = false;
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
      if (std::string_view(o->keyword) == "password" && o->val != nullptr && *o->val != '\0') {
        has_password = true;
      }
    }
    PQconninfoFree(options);
    if (has_password) {
      return absl::InvalidArgumentError(
          "--pg holds a password, and a command line is visible to every user of the "
          "machine (ps, /proc): remove it and give it through PGPASSWORD (or "
          "POSTGRES_PASSWORD=@/path/to/file), ~/.pgpass or PGPASSFILE");
    }
    *source = "flag";
    return pg;
  }
  for (const char* name : {"PGHOST", "PGPORT", "PGDATABASE", "PGSERVICE"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') {
      *source = "env PG*";
      return std::string();
    }
  }
  std::string host = FlagOrEnv("", {"POSTGRES_HOST"}, "localhost");
  std::string port = FlagOrEnv("", {"POSTGRES_PORT"}, "5432");
  std::string user = FlagOrEnv("", {"POSTGRES_USER"}, "postgres");
  std::string db = FlagOrEnv("", {"POSTGRES_DB"}, "postgres");
  const char* password = std::getenv("POSTGRES_PASSWORD");
  if (password != nullptr && std::getenv("PGPASSWORD") == nullptr) {
    PV_ASSIGN_OR_RETURN(std::string secret,
                        ReadSecret(password, "POSTGRES_PASSWORD"));
    setenv("PGPASSWORD", secret.c_str(), 1);
  }
  *source = "env POSTGRES_*";
  return absl::StrCat("host=", host, " port=", port, " user=", user,
                      " dbname=", db);
}

}  // namespace pv::warehouse
