#include "cc/warehouse/loader.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cc/common/logging.h"
#include "cc/common/status.h"
#include "cc/common/threads.h"
#include "cc/star/attributes.h"
#include "cc/star/calendar.h"
#include "cc/star/grain_hash.h"
#include "cc/warehouse/copy_binary.h"
#include "cc/warehouse/natural_key.h"

namespace pv::warehouse {
namespace {

// The fact columns the loader writes, in the order it encodes them. Other
// columns (added by a DBA, nullable or with a default) are left to their
// defaults.
constexpr char kFactColumns[] =
    "date_key, product_key, country_key, referrer_key, device_key, view_count, "
    "unique_visitors, first_view_time, last_view_time, view_duration_seconds, "
    "avg_view_timestamp, processed_at";

// Identifies "a batch load" among advisory locks: one load at a time.
constexpr int64_t kLoadLockId = 0x70765f6c6f616421;  // "pv_load!"

double Seconds(absl::Time since) {
  return absl::ToDoubleSeconds(absl::Now() - since);
}

using star::DateKey;
using star::DayText;

// An attribute column of a dimension and its SQL type.
struct Column {
  const char* name;
  const char* type = "text";
};

// A keyed dimension: how to stage its members and where they go.
struct DimensionSpec {
  const char* table;
  const char* key;      // surrogate key column
  const char* natural;  // natural key column
  // Attribute columns after the natural key, staged and upserted.
  std::vector<Column> attributes;
  // When an existing member d takes the staged attributes s (SQL over d.*
  // and s.*). Empty: when they differ (attributes that are a function of
  // the natural key).
  std::string update_when;
};

// Drops the primary key, unique constraints and indexes of `table`, and
// returns the statements that recreate them (constraints last, so that a
// constraint can reuse nothing and be rebuilt whole).
absl::StatusOr<std::vector<std::string>> DropIndexes(PgConnection* conn,
                                                     absl::string_view table) {
  PV_ASSIGN_OR_RETURN(
      PgResult constraints,
      conn->Query("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                  "WHERE conrelid = $1::regclass AND contype IN ('p', 'u')",
                  {std::string(table)}));
  PV_ASSIGN_OR_RETURN(
      PgResult indexes,
      conn->Query("SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
                  "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = "
                  "$1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                  "WHERE c.conindid = i.oid)",
                  {std::string(table)}));
  std::vector<std::string> recreate;
  std::string drop;
  for (int i = 0; i < indexes.rows(); ++i) {
    PV_ASSIGN_OR_RETURN(std::string name, conn->EscapeIdentifier(indexes.Get(i, 0)));
    absl::StrAppend(&drop, "DROP INDEX ", name, ";");
    recreate.emplace_back(indexes.Get(i, 1));
  }
  for (int i = 0; i < constraints.rows(); ++i) {
    PV_ASSIGN_OR_RETURN(std::string name, conn->EscapeIdentifier(constraints.Get(i, 0)));
    absl::StrAppend(&drop, "ALTER TABLE ", table, " DROP CONSTRAINT ", name, ";");
    recreate.push_back(
        absl::StrCat("ALTER TABLE ", table, " ADD CONSTRAINT ", name, " ", constraints.Get(i, 1)));
  }
  if (!drop.empty()) PV_RETURN_IF_ERROR(conn->Exec(drop));
  return recreate;
}

// A dimension's upsert in two steps: the keys of its members (existing ones
// looked up, new ones assigned), which the facts need, and the writes that
// make them true, which can run while the facts are being built.
struct DimensionUpsert {
  std::vector<int32_t> keys;  // by ordinal
  std::function<absl::Status()> write;
};

// Stages `count` members (the encoder writes row `ord`'s natural key and
// attributes) and looks up the keys of the existing ones (nothing to stage
// or look up while the dimension holds only the Unknown member); gives new
// members the next keys in natural-key byte order (so keys do not depend on
// thread scheduling). The returned write COPYs the new members in and
// refreshes changed attributes of existing members, on `conn`, in the same
// transaction; everything it refers to must outlive it.
absl::StatusOr<DimensionUpsert> PlanDimension(
    PgConnection* conn, const DimensionSpec& spec,
    const std::vector<std::string>& naturals,
    const std::function<void(size_t ord, CopyBinaryEncoder&)>& encode_attributes,
    size_t rebuild_min_rows, int digest_threads, int64_t* new_members) {
  const size_t count = naturals.size();
  const std::string stage = absl::StrCat("pv_stage_", spec.table);
  std::string columns = absl::StrCat("ord integer, nk_md5 uuid, ", spec.natural, " text");
  std::vector<std::string> dcols, scols, sets;
  for (const Column& a : spec.attributes) {
    absl::StrAppend(&columns, ", ", a.name, " ", a.type);
    dcols.push_back(absl::StrCat("d.", a.name));
    scols.push_back(absl::StrCat("s.", a.name));
    sets.push_back(absl::StrCat(a.name, " = s.", a.name));
  }
  // The highest key (through the primary key's index), and whether it is
  // the Unknown member's.
  PV_ASSIGN_OR_RETURN(
      PgResult max,
      conn->Query(absl::StrCat("SELECT coalesce(max(", spec.key, "), 0), count(*) FILTER (WHERE ",
                               spec.key, " = 0 AND ", spec.natural, " = '') FROM (SELECT ",
                               spec.key, ", ", spec.natural, " FROM ", spec.table, " ORDER BY ",
                               spec.key, " DESC LIMIT 1) m")));
  const int64_t base = max.GetInt(0, 0);
  // Only the Unknown member so far (a first load): every other member is
  // new, and staging them to look them up would copy them twice.
  const bool empty = base == 0 && max.GetInt(0, 1) == 1;
  // Every member's digest, the dimension's nk_md5 (natural_key.h): now for
  // the lookup, or, in a first load, when the members are written (beside
  // the fact builds, not before them).
  std::vector<NaturalKeyDigest> digests;
  if (!empty) {
    PV_ASSIGN_OR_RETURN(digests, DigestNaturalKeys(naturals, digest_threads));
  }
  // Streams rows [0, n) of `row` as one binary COPY.
  auto copy_rows = [conn](const std::string& sql, size_t n,
                          const std::function<void(size_t, CopyBinaryEncoder&)>& row) {
    size_t next = 0;
    bool header = false;
    return conn->CopyIn(sql, [&](std::string* chunk) -> absl::StatusOr<bool> {
      CopyBinaryEncoder enc(chunk);
      if (!header) {
        enc.Header();
        header = true;
      }
      while (next < n && chunk->size() < (1 << 20)) row(next++, enc);
      if (next < n) return true;
      enc.Trailer();
      return false;
    });
  };
  const int16_t fields = static_cast<int16_t>(3 + spec.attributes.size());
  std::vector<int32_t> keys(count, -1);
  std::vector<int32_t> changed;  // ordinals of members whose attributes moved
  // Stages every member and resolves the existing ones: their keys, and
  // whether they keep their attributes.
  auto look_up_existing = [&]() -> absl::Status {
    PV_RETURN_IF_ERROR(conn->Exec(absl::StrCat(
        "CREATE TEMP TABLE ", stage, " (", columns, ") ON COMMIT DROP")));
    std::string stage_columns = absl::StrCat("ord, nk_md5, ", spec.natural);
    for (const Column& a : spec.attributes) absl::StrAppend(&stage_columns, ", ", a.name);
    PV_RETURN_IF_ERROR(copy_rows(
        absl::StrCat("COPY ", stage, " (", stage_columns, ") FROM STDIN (FORMAT binary)"), count,
        [&](size_t i, CopyBinaryEncoder& e) {
          e.StartRow(fields);
          e.Int4(static_cast<int32_t>(i));
          e.Uuid(digests[i]);
          e.Text(naturals[i]);
          encode_attributes(i, e);
        }));
    // Temporary tables have no statistics; without them the planner guesses a
    // few rows and picks nested loops over hundreds of thousands of members.
    PV_RETURN_IF_ERROR(conn->Exec(absl::StrCat("ANALYZE ", stage, " (nk_md5)")));

    // Existing members: their keys, and whether they keep their attributes.
    // The dimension is filtered by the staged members' digests, a constant
    // array PostgreSQL probes as a hash set inside the scan (a third of a
    // hash join's cost per dimension row, which is what grows with the
    // history, and no key text hashed), and only the matches meet the
    // staged rows. A match whose natural key differs (an md5 collision) is
    // no match: the member is new, and its insert fails on the unique index.
    std::string same =
        dcols.empty() ? std::string("true")
        : !spec.update_when.empty()
            ? absl::StrCat("NOT coalesce(", spec.update_when, ", false)")
            : absl::StrCat("(", absl::StrJoin(dcols, ", "), ") IS NOT DISTINCT FROM (",
                           absl::StrJoin(scols, ", "), ")");
    // The digests go as one binary parameter: the planner takes the value of
    // an unnamed statement's parameter as a constant (so the array becomes
    // a hash set), and nothing parses 37 characters of text per member.
    PV_ASSIGN_OR_RETURN(
        PgResult existing,
        conn->QueryBinaryParams(
            absl::StrCat("SELECT s.ord, d.", spec.key, ", (", same, ")::int, (d.", spec.natural,
                         " = s.", spec.natural, ")::int FROM (SELECT * FROM ", spec.table,
                         " WHERE nk_md5 = ANY ($1::uuid[])) d JOIN ", stage,
                         " s ON s.nk_md5 = d.nk_md5"),
            {BinaryUuidArray(digests)}));
    for (int r = 0; r < existing.rows(); ++r) {
      const int64_t ord = existing.GetInt(r, 0);
      if (existing.GetInt(r, 3) == 0) continue;  // another key with the same md5
      if (ord < 0 || static_cast<size_t>(ord) >= count) {
        return absl::InternalError(absl::StrCat(spec.table, ": bad ordinal ", ord));
      }
      const int32_t key = static_cast<int32_t>(existing.GetInt(r, 1));
      keys[ord] = key;
      if (existing.GetInt(r, 2) == 0 && key != 0) changed.push_back(static_cast<int32_t>(ord));
    }
    return absl::OkStatus();
  };
  if (empty) {
    for (size_t i = 0; i < count; ++i) {
      if (naturals[i].empty()) keys[i] = 0;
    }
  } else {
    PV_RETURN_IF_ERROR(look_up_existing());
  }
  if (count > 0 && keys[0] != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        spec.table, ": the Unknown member (key 0, empty ", spec.natural,
        ") is missing; was the schema migrated?"));
  }

  // New members, keyed in natural-key byte order after the current maximum.
  std::vector<uint32_t> fresh;
  for (size_t i = 0; i < count; ++i) {
    if (keys[i] < 0) fresh.push_back(static_cast<uint32_t>(i));
  }
  if (!fresh.empty()) {
    SortByNaturalKey(naturals, &fresh);
    if (base + static_cast<int64_t>(fresh.size()) > INT32_MAX) {
      return absl::ResourceExhaustedError(
          absl::StrCat(spec.table, ": surrogate keys exhausted"));
    }
    for (size_t j = 0; j < fresh.size(); ++j) {
      keys[fresh[j]] = static_cast<int32_t>(base + 1 + j);
    }
  }
  std::vector<std::pair<int32_t, int32_t>> refresh;  // (ordinal, key) of changed members
  for (int32_t ord : changed) refresh.emplace_back(ord, keys[ord]);
  // Maintaining a unique index costs ~8 us per inserted row here, building
  // it ~2 us: when the new members outnumber the existing ones (a first
  // load, a backfill), drop the dimension's indexes, COPY, rebuild them.
  // The rebuild checks uniqueness as the inserts would have; the dimension
  // stays locked until commit, as the fact swap locks the fact table.
  const bool rebuild =
      fresh.size() >= rebuild_min_rows && static_cast<int64_t>(fresh.size()) > base;
  DimensionUpsert out;
  out.write = [conn, spec, stage, sets, fields, rebuild, base, copy_rows, &naturals,
               encode_attributes, new_members, digest_threads, digests = std::move(digests),
               fresh = std::move(fresh),
               refresh = std::move(refresh)]() mutable -> absl::Status {
    if (!fresh.empty()) {
      if (digests.empty()) {
        PV_ASSIGN_OR_RETURN(digests, DigestNaturalKeys(naturals, digest_threads));
      }
      std::string cols = absl::StrCat(spec.key, ", nk_md5, ", spec.natural);
      for (const Column& a : spec.attributes) absl::StrAppend(&cols, ", ", a.name);
      std::vector<std::string> recreate;
      if (rebuild) {
        PV_ASSIGN_OR_RETURN(recreate, DropIndexes(conn, spec.table));
      }
      PV_RETURN_IF_ERROR(copy_rows(
          absl::StrCat("COPY ", spec.table, " (", cols, ") FROM STDIN (FORMAT binary)"),
          fresh.size(), [&](size_t j, CopyBinaryEncoder& e) {
            // Key order visits the members at random: fetch ahead what
            // the rows copy (the member, then its bytes, and its digest).
            if (j + 8 < fresh.size()) {
              __builtin_prefetch(&naturals[fresh[j + 8]]);
              __builtin_prefetch(&digests[fresh[j + 8]]);
            }
            if (j + 4 < fresh.size()) __builtin_prefetch(naturals[fresh[j + 4]].data());
            size_t i = fresh[j];
            e.StartRow(fields);
            e.Int4(static_cast<int32_t>(base + 1 + static_cast<int64_t>(j)));
            e.Uuid(digests[i]);
            e.Text(naturals[i]);
            encode_attributes(i, e);
          }));
      for (const std::string& statement : recreate) {
        PV_RETURN_IF_ERROR(conn->Exec(statement), spec.table, ": rebuilding an index");
      }
      *new_members += static_cast<int64_t>(fresh.size());
    }
    // Type-1 refresh of derived attributes of existing members.
    if (!refresh.empty()) {
      const std::string moved = stage + "_changed";
      PV_RETURN_IF_ERROR(conn->Exec(absl::StrCat(
          "CREATE TEMP TABLE ", moved, " (ord integer, key integer) ON COMMIT DROP")));
      PV_RETURN_IF_ERROR(copy_rows(
          absl::StrCat("COPY ", moved, " (ord, key) FROM STDIN (FORMAT binary)"),
          refresh.size(), [&](size_t j, CopyBinaryEncoder& e) {
            e.StartRow(2);
            e.Int4(refresh[j].first);
            e.Int4(refresh[j].second);
          }));
      PV_RETURN_IF_ERROR(conn->Exec(absl::StrCat(
          "UPDATE ", spec.table, " d SET ", absl::StrJoin(sets, ", "), " FROM ", stage,
          " s JOIN ", moved, " c ON c.ord = s.ord WHERE d.", spec.key, " = c.key")));
    }
    return absl::OkStatus();
  };
  out.keys = std::move(keys);
  return out;
}

}  // namespace

std::string FactPartitionName(int32_t day) {
  return absl::StrCat("fact_product_views_d", DateKey(day));
}

void FactChecksumAccumulator::Add(const KeyedFact& k, const FactRow& f) {
  const uint64_t h = star::HashGrain(k.date_key, k.product, k.store, k.referrer, k.device);
  const uint64_t m = star::HashGrain(static_cast<int32_t>(f.view_count),
                                     static_cast<uint32_t>(f.min_time),
                                     static_cast<uint32_t>(f.max_time),
                                     static_cast<uint32_t>(f.sum_time),
                                     static_cast<uint32_t>(f.sum_time >> 32));
  sum_ += h ^ (m * 0x9E3779B97F4A7C15ull);
  mix_ ^= h + m;
}

std::string FactChecksumAccumulator::Text() const {
  return absl::StrFormat("%016x%016x", sum_, mix_);
}

namespace {

// The statements that index a staged partition, one per index (each may
// run on its own connection).
std::vector<std::string> IndexStatements(const std::string& part) {
  const std::string t = "pv_staging." + part;
  return {
      // A constraint, not a bare unique index: ATTACH PARTITION adopts it for
      // the parent's grain constraint instead of building a second one.
      absl::StrCat("ALTER TABLE ", t, " ADD CONSTRAINT ", part,
                   "_grain UNIQUE (date_key, product_key, country_key, referrer_key, device_key)"),
      absl::StrCat("CREATE INDEX ", part, "_product ON ", t, " (product_key)"),
      absl::StrCat("CREATE INDEX ", part, "_country ON ", t, " (country_key)"),
      absl::StrCat("CREATE INDEX ", part, "_referrer ON ", t, " (referrer_key)"),
      absl::StrCat("CREATE INDEX ", part, "_device ON ", t, " (device_key)"),
  };
}

// Runs `jobs` over `conns.size()` threads, one connection each; returns the
// first error.
absl::Status RunOnConnections(
    std::vector<std::unique_ptr<PgConnection>>& conns, size_t jobs,
    const std::function<absl::Status(PgConnection*, size_t job)>& run) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  absl::Status first;
  RunOnThreads(static_cast<int>(conns.size()), [&](int w) {
    PgConnection* conn = conns[w].get();
    for (size_t j; (j = next.fetch_add(1)) < jobs;) {
      absl::Status s = run(conn, j);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first.ok()) first = s;
        next.store(jobs);  // stop handing out work
      }
    }
  });
  return first;
}

}  // namespace

std::vector<KeyedFact> KeyFacts(const StarBatch& batch, const std::vector<int32_t>& products,
                                const std::vector<int32_t>& stores,
                                const std::vector<int32_t>& referrers,
                                const std::vector<int32_t>& devices, int threads) {
  threads = std::max(1, threads);
  absl::flat_hash_map<int32_t, size_t> bucket;  // day -> bucket, a handful
  std::vector<int32_t> date_key;                 // by bucket
  for (int32_t day : batch.fact_days) {
    if (bucket.emplace(day, bucket.size()).second) date_key.push_back(DateKey(day));
  }
  const size_t stray = bucket.size(), buckets = stray + 1;
  auto bucket_of = [&](int32_t day) {
    auto it = bucket.find(day);
    return it != bucket.end() ? it->second : stray;
  };
  // Each thread keys a range of the facts into its own slice of every
  // bucket: counted first, then written.
  const size_t n = batch.facts.size();
  std::vector<std::vector<size_t>> count(threads, std::vector<size_t>(buckets, 0));
  RunOnThreads(threads, [&](int w) {
    for (size_t i = n * w / threads, end = n * (w + 1) / threads; i < end; ++i) {
      ++count[w][bucket_of(batch.facts[i].day)];
    }
  });
  std::vector<size_t> begin(buckets + 1, 0);
  std::vector<std::vector<size_t>> fill(threads, std::vector<size_t>(buckets));
  for (size_t b = 0, at = 0; b < buckets; ++b) {
    begin[b] = at;
    for (int w = 0; w < threads; ++w) {
      fill[w][b] = at;
      at += count[w][b];
    }
    begin[b + 1] = at;
  }
  std::vector<KeyedFact> keyed(n);
  RunOnThreads(threads, [&](int w) {
    std::vector<size_t>& at = fill[w];
    for (size_t i = n * w / threads, end = n * (w + 1) / threads; i < end; ++i) {
      const FactRow& f = batch.facts[i];
      const size_t b = bucket_of(f.day);
      keyed[at[b]++] = {b < stray ? date_key[b] : DateKey(f.day),
                        products[f.product],
                        stores[f.store],
                        referrers[f.referrer],
                        devices[f.device],
                        static_cast<uint32_t>(i)};
    }
  });
  RunJobs(threads, buckets, [&](size_t b) {
    std::sort(keyed.begin() + static_cast<ptrdiff_t>(begin[b]),
              keyed.begin() + static_cast<ptrdiff_t>(begin[b + 1]));
  });
  return keyed;
}

absl::Status WarehouseLoader::DropStaging(PgConnection* conn) {
  // Only what BuildStagedPartitions creates (FactPartitionName's names):
  // anything else someone put in pv_staging stays.
  PV_ASSIGN_OR_RETURN(
      PgResult tables,
      conn->Query("SELECT tablename FROM pg_tables WHERE schemaname = 'pv_staging' AND "
                  "tablename ~ '^fact_product_views_d[0-9]{8}$'"));
  for (int i = 0; i < tables.rows(); ++i) {
    PV_ASSIGN_OR_RETURN(std::string name, conn->EscapeIdentifier(tables.Get(i, 0)));
    PV_RETURN_IF_ERROR(conn->Exec(absl::StrCat("DROP TABLE IF EXISTS pv_staging.", name)));
  }
  return absl::OkStatus();
}

absl::Status WarehouseLoader::OpenStaging(
    const std::vector<int32_t>& fact_days,
    std::vector<std::unique_ptr<PgConnection>>* side) const {
  const int streams = std::max(1, options_.streams);
  for (int i = 0; i < streams; ++i) {
    PV_ASSIGN_OR_RETURN(auto c, PgConnection::Connect(options_.conninfo));
    PV_RETURN_IF_ERROR(c->SetConfig("maintenance_work_mem", options_.maintenance_work_mem,
                                    /*local=*/false));
    PV_RETURN_IF_ERROR(c->SetConfig("max_parallel_maintenance_workers",
                                    absl::StrCat(std::max(0, options_.index_workers)),
                                    /*local=*/false));
    PV_RETURN_IF_ERROR(ApplyStatementTimeout(c.get()));
    side->push_back(std::move(c));
  }
  // Empty tables, each with the CHECK that lets ATTACH skip its scan.
  for (int32_t day : fact_days) {
    const std::string part = FactPartitionName(day);
    PV_RETURN_IF_ERROR((*side)[0]->Exec(absl::StrCat(
        "CREATE TABLE pv_staging.", part,
        " (LIKE public.fact_product_views INCLUDING DEFAULTS)"
        // Autovacuum would start analyzing the fresh rows and hold a lock
        // that the swap then waits a deadlock_timeout for; it is turned back
        // on when the partition is attached.
        " WITH (autovacuum_enabled = off);"
        "ALTER TABLE pv_staging.", part, " ADD CONSTRAINT ", part,
        "_date CHECK (date_key = ", DateKey(day), ")")));
  }
  return absl::OkStatus();
}

absl::Status WarehouseLoader::BuildStagedPartitions(
    const StarBatch& batch, const std::vector<KeyedFact>& keyed,
    std::vector<std::unique_ptr<PgConnection>>& side, LoadStats* stats) {
  absl::Time t = absl::Now();
  const int streams = static_cast<int>(side.size());
  struct Chunk {
    int32_t day;
    size_t begin, end;  // into `keyed`
  };
  std::vector<Chunk> chunks;
  size_t pos = 0;
  for (int32_t day : batch.fact_days) {
    const int32_t date_key = DateKey(day);
    size_t begin = pos;
    while (pos < keyed.size() && keyed[pos].date_key == date_key) ++pos;
    // Split the day into pieces so that every stream has work.
    const size_t rows = pos - begin;
    const size_t piece = std::max<size_t>(50000, (rows + streams - 1) / streams);
    for (size_t b = begin; b < pos; b += piece) {
      chunks.push_back({day, b, std::min(pos, b + piece)});
    }
  }
  if (pos != keyed.size()) {
    return absl::InternalError("fact rows outside the fact days");
  }
  const int64_t processed_at_us = absl::ToUnixMicros(absl::Now());
  constexpr size_t kPrefetchAhead = 16;
  // The ledger's checksum, folded in while the rows are encoded (it is
  // order-independent): one accumulator per chunk, merged after.
  std::vector<FactChecksumAccumulator> sums(chunks.size());
  PV_RETURN_IF_ERROR(RunOnConnections(
      side, chunks.size(), [&](PgConnection* conn, size_t j) -> absl::Status {
        const Chunk& c = chunks[j];
        FactChecksumAccumulator& sum = sums[j];
        size_t next = c.begin;
        bool header = false;
        return Annotate(
            conn->CopyIn(
                absl::StrCat("COPY pv_staging.", FactPartitionName(c.day), " (",
                             kFactColumns, ") FROM STDIN (FORMAT binary)"),
                [&](std::string* out) -> absl::StatusOr<bool> {
                  CopyBinaryEncoder e(out);
                  if (!header) {
                    e.Header();
                    header = true;
                  }
                  for (; next < c.end && out->size() < (1 << 20); ++next) {
                    // The rows are read in grain order, at random in
                    // batch.facts: fetch a few ahead (it was a cache miss
                    // per row, 8 % of the whole batch's CPU in perf).
                    if (next + kPrefetchAhead < c.end) {
                      const char* ahead = reinterpret_cast<const char*>(
                          &batch.facts[keyed[next + kPrefetchAhead].row]);
                      __builtin_prefetch(ahead);
                      __builtin_prefetch(ahead + sizeof(FactRow) - 1);
                    }
                    const KeyedFact& k = keyed[next];
                    const FactRow& f = batch.facts[k.row];
                    sum.Add(k, f);
                    e.StartRow(12);
                    e.Int4(k.date_key);
                    e.Int4(k.product);
                    e.Int4(k.store);
                    e.Int4(k.referrer);
                    e.Int4(k.device);
                    e.Int8(f.view_count);
                    e.Int8(f.device != 0 ? 1 : 0);  // distinct non-empty device_id
                    e.TimestampUnix(f.min_time);
                    e.TimestampUnix(f.max_time);
                    e.Int8(f.max_time - f.min_time);
                    e.Float8(static_cast<double>(f.sum_time) /
                             static_cast<double>(f.view_count));
                    e.TimestampUnixMicros(processed_at_us);
                  }
                  if (next < c.end) return true;
                  e.Trailer();
                  return false;
                }),
            absl::StrCat("facts of ", DayText(c.day)));
      }));
  stats->fact_copy_seconds = Seconds(t);
  for (size_t j = 1; j < sums.size(); ++j) sums[0].Merge(sums[j]);
  stats->fact_checksum = sums.empty() ? FactChecksumAccumulator().Text() : sums[0].Text();
  t = absl::Now();
  std::vector<std::string> index_jobs;
  for (int32_t day : batch.fact_days) {
    for (std::string& s : IndexStatements(FactPartitionName(day))) {
      index_jobs.push_back(std::move(s));
    }
  }
  PV_RETURN_IF_ERROR(RunOnConnections(
      side, index_jobs.size(),
      [&](PgConnection* conn, size_t j) { return conn->Exec(index_jobs[j]); }));
  stats->fact_index_seconds = Seconds(t);
  return absl::OkStatus();
}

absl::StatusOr<WarehouseRecord> WarehouseLoader::ReadRecord(bool lock) {
  if (lock) {
    PV_RETURN_IF_ERROR(
        conn_->Exec(absl::StrCat("SELECT pg_advisory_lock(", kLoadLockId, ")")));
  }
  WarehouseRecord record;
  PV_ASSIGN_OR_RETURN(
      PgResult segments,
      conn_->Query("SELECT name, file_bytes, footer_crc, records, source_kind, source, run_id, "
                   "pruned_at IS NOT NULL FROM pv_applied_segment ORDER BY name"));
  absl::flat_hash_map<std::string, size_t> index;
  for (int i = 0; i < segments.rows(); ++i) {
    AppliedSegment a;
    a.name = std::string(segments.Get(i, 0));
    a.file_bytes = static_cast<uint64_t>(segments.GetInt(i, 1));
    a.footer_crc = static_cast<uint32_t>(segments.GetInt(i, 2));
    a.records = static_cast<uint64_t>(segments.GetInt(i, 3));
    a.source_kind = std::string(segments.Get(i, 4));
    a.source = std::string(segments.Get(i, 5));
    a.run_id = segments.GetInt(i, 6);
    a.pruned = segments.Get(i, 7) == "t";
    index.emplace(a.name, record.segments.size());
    record.segments.push_back(std::move(a));
  }
  PV_ASSIGN_OR_RETURN(
      PgResult ranges,
      conn_->Query("SELECT segment, partition, first_offset, last_offset, start_position, "
                   "end_position, records FROM pv_applied_segment_range ORDER BY segment, "
                   "partition"));
  for (int i = 0; i < ranges.rows(); ++i) {
    auto it = index.find(ranges.Get(i, 0));
    if (it == index.end()) continue;
    AppliedRange r;
    r.partition = static_cast<int32_t>(ranges.GetInt(i, 1));
    r.first_offset = ranges.GetInt(i, 2);
    r.last_offset = ranges.GetInt(i, 3);
    r.start_position = ranges.GetInt(i, 4);
    r.end_position = ranges.GetInt(i, 5);
    r.records = static_cast<uint64_t>(ranges.GetInt(i, 6));
    record.segments[it->second].ranges.push_back(r);
  }
  PV_ASSIGN_OR_RETURN(
      PgResult days,
      conn_->Query("SELECT segment, (day - date '1970-01-01')::int, events, loaded "
                   "FROM pv_applied_segment_day ORDER BY segment, day"));
  for (int i = 0; i < days.rows(); ++i) {
    auto it = index.find(days.Get(i, 0));
    if (it == index.end()) continue;
    AppliedSegment& a = record.segments[it->second];
    const int32_t day = static_cast<int32_t>(days.GetInt(i, 1));
    a.day_events[day] = static_cast<uint64_t>(days.GetInt(i, 2));
    if (days.Get(i, 3) != "t") a.unloaded_days.push_back(day);
  }
  return record;
}

absl::Status WarehouseLoader::MarkPruned(const std::vector<std::string>& names) {
  if (names.empty()) return absl::OkStatus();
  std::vector<std::string> quoted;
  for (const std::string& n : names) {
    std::string q = "\"";
    for (char c : n) {
      if (c == '"' || c == '\\') q.push_back('\\');
      q.push_back(c);
    }
    quoted.push_back(q + "\"");
  }
  return conn_
      ->Query("UPDATE pv_applied_segment SET pruned_at = now() WHERE pruned_at IS NULL AND "
              "name = ANY ($1::text[])",
              {absl::StrCat("{", absl::StrJoin(quoted, ","), "}")})
      .status();
}

void WarehouseLoader::Unlock() {
  (void)conn_->Exec(absl::StrCat("SELECT pg_advisory_unlock_all()"));
}

absl::Status WarehouseLoader::WriteRecord(const StarBatch& batch, const RecordUpdate& update,
                                          int64_t run_id) {
  const std::vector<AppliedSegment>& segs = update.new_segments;
  if (!segs.empty()) {
    PV_RETURN_IF_ERROR(conn_->CopyIn(
        "COPY pv_applied_segment (name, file_bytes, footer_crc, records, source_kind, source, "
        "run_id) FROM STDIN (FORMAT binary)",
        [&, next = size_t{0}, header = false](std::string* chunk) mutable
        -> absl::StatusOr<bool> {
          CopyBinaryEncoder e(chunk);
          if (!header) {
            e.Header();
            header = true;
          }
          for (; next < segs.size() && chunk->size() < (1 << 20); ++next) {
            const AppliedSegment& a = segs[next];
            e.StartRow(7);
            e.Text(a.name);
            e.Int8(static_cast<int64_t>(a.file_bytes));
            e.Int8(a.footer_crc);
            e.Int8(static_cast<int64_t>(a.records));
            e.Text(a.source_kind);
            e.Text(a.source);
            e.Int8(run_id);
          }
          if (next < segs.size()) return true;
          e.Trailer();
          return false;
        }));
    std::string ranges, days;
    CopyBinaryEncoder r(&ranges), d(&days);
    r.Header();
    d.Header();
    for (const AppliedSegment& a : segs) {
      for (const AppliedRange& x : a.ranges) {
        r.StartRow(7);
        r.Text(a.name);
        r.Int4(x.partition);
        r.Int8(x.first_offset);
        r.Int8(x.last_offset);
        r.Int8(x.start_position);
        r.Int8(x.end_position);
        r.Int8(static_cast<int64_t>(x.records));
      }
      for (const auto& [day, events] : a.day_events) {
        d.StartRow(4);
        d.Text(a.name);
        d.DateFromUnixDay(day);
        d.Int8(static_cast<int64_t>(events));
        d.Bool(std::binary_search(batch.fact_days.begin(), batch.fact_days.end(), day));
      }
    }
    r.Trailer();
    d.Trailer();
    PV_RETURN_IF_ERROR(conn_->CopyIn(
        "COPY pv_applied_segment_range (segment, partition, first_offset, last_offset, "
        "start_position, end_position, records) FROM STDIN (FORMAT binary)",
        ranges));
    PV_RETURN_IF_ERROR(conn_->CopyIn(
        "COPY pv_applied_segment_day (segment, day, events, loaded) FROM STDIN (FORMAT binary)",
        days));
  }
  // The reloaded days now include every applied segment that holds them.
  if (!batch.fact_days.empty()) {
    std::vector<std::string> dates;
    for (int32_t day : batch.fact_days) dates.push_back(DayText(day));
    PV_RETURN_IF_ERROR(
        conn_->Query("UPDATE pv_applied_segment_day SET loaded = true WHERE NOT loaded AND "
                     "day = ANY ($1::date[])",
                     {absl::StrCat("{", absl::StrJoin(dates, ","), "}")})
            .status());
  }
  return absl::OkStatus();
}

absl::Status WarehouseLoader::ApplyStatementTimeout(PgConnection* conn) const {
  if (options_.statement_timeout <= absl::ZeroDuration()) return absl::OkStatus();
  return conn->SetConfig("statement_timeout",
                         absl::StrCat(absl::ToInt64Milliseconds(options_.statement_timeout)),
                         /*local=*/false);
}

namespace {

// Sessions holding a lock on public.fact_product_views or on `partition`:
// who they are, for the error message (never their query's values).
std::string LockHolders(PgConnection* conn, const std::string& partition) {
  absl::StatusOr<PgResult> r = conn->Query(
      "SELECT a.pid, coalesce(a.usename, '?'), coalesce(nullif(a.application_name, ''), '?'), "
      "coalesce(host(a.client_addr), 'local'), coalesce(a.state, '?'), "
      "coalesce(to_char(now() - a.xact_start, 'HH24:MI:SS'), '?'), "
      "coalesce(split_part(ltrim(a.query), ' ', 1), '') "
      "FROM pg_stat_activity a WHERE a.pid <> pg_backend_pid() AND a.pid IN ("
      " SELECT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
      " JOIN pg_namespace n ON n.oid = c.relnamespace"
      " WHERE l.granted AND n.nspname = 'public'"
      " AND c.relname IN ('fact_product_views', $1)) ORDER BY a.xact_start LIMIT 5",
      {partition});
  if (!r.ok() || r->rows() == 0) return "a session that has ended since";
  std::vector<std::string> out;
  for (int i = 0; i < r->rows(); ++i) {
    out.push_back(absl::StrCat("backend ", r->Get(i, 0), " (user ", r->Get(i, 1),
                               ", application ", r->Get(i, 2), ", client ", r->Get(i, 3),
                               ", ", r->Get(i, 4), ", transaction open for ", r->Get(i, 5),
                               ", last statement ", r->Get(i, 6), ")"));
  }
  return absl::StrJoin(out, "; ");
}

bool IsLockTimeout(const absl::Status& s) {
  return absl::StrContains(s.message(), "[SQLSTATE 55P03]");
}

}  // namespace

absl::Status WarehouseLoader::SwapPartition(const std::string& swap, const std::string& part) {
  const int tries = std::max(1, options_.lock_tries);
  const std::string timeout = absl::StrCat(
      std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.lock_timeout)), "ms");
  for (int attempt = 1;; ++attempt) {
    PV_RETURN_IF_ERROR(conn_->Exec("SAVEPOINT pv_swap"));
    PV_RETURN_IF_ERROR(conn_->SetConfig("lock_timeout", timeout, /*local=*/true));
    absl::Status s = conn_->Exec(swap);
    if (s.ok()) {
      PV_RETURN_IF_ERROR(conn_->SetConfig("lock_timeout", "0", /*local=*/true));
      return conn_->Exec("RELEASE SAVEPOINT pv_swap");
    }
    if (!IsLockTimeout(s)) return s;
    PV_RETURN_IF_ERROR(conn_->Exec("ROLLBACK TO SAVEPOINT pv_swap"));
    const std::string holders = LockHolders(conn_, part);
    if (attempt >= tries) {
      return absl::DeadlineExceededError(absl::StrCat(
          "waited ", tries, " times ", timeout, " for the lock on fact_product_views and ",
          part, " that replacing a day needs, held by ", holders,
          ". Nothing was changed: end that session (e.g. SELECT pg_terminate_backend(pid)) "
          "or rerun when it is done; --lock-timeout and --lock-tries set the patience"));
    }
    const absl::Duration pause = absl::Seconds(std::min(30, 1 << (attempt - 1)));
    PV_LOG(WARNING) << "replacing " << part << ": waited " << timeout
                    << " for its lock, held by " << holders << "; trying again in "
                    << absl::FormatDuration(pause) << " (" << attempt << " of " << tries << ")";
    absl::SleepFor(pause);
  }
}

namespace {

// What the loader reads and writes, by table: column -> udt_name.
struct ExpectedColumn {
  const char* table;
  const char* column;
  const char* type;
};
constexpr ExpectedColumn kExpectedColumns[] = {
    {"dim_date", "date_key", "int4"}, {"dim_date", "date", "date"},
    {"dim_date", "year", "int4"}, {"dim_date", "month", "int4"},
    {"dim_date", "day", "int4"}, {"dim_date", "day_of_week", "int4"},
    {"dim_date", "week_of_year", "int4"}, {"dim_date", "quarter", "int4"},
    {"dim_product", "product_key", "int4"}, {"dim_product", "product_id", "text"},
    {"dim_product", "nk_md5", "uuid"},
    {"dim_country", "country_key", "int4"}, {"dim_country", "store_id", "text"},
    {"dim_country", "nk_md5", "uuid"},
    {"dim_country", "country_name", "text"}, {"dim_country", "country_code", "text"},
    {"dim_country", "region", "text"}, {"dim_country", "continent", "text"},
    {"dim_country", "store_domain", "text"}, {"dim_country", "attr_time", "int8"},
    {"dim_referrer", "referrer_key", "int4"}, {"dim_referrer", "referrer_url", "text"},
    {"dim_referrer", "nk_md5", "uuid"},
    {"dim_referrer", "referrer_domain", "text"}, {"dim_referrer", "referrer_type", "text"},
    {"dim_device", "device_key", "int4"}, {"dim_device", "device_id", "text"},
    {"dim_device", "nk_md5", "uuid"},
    {"dim_device", "device_type", "text"}, {"dim_device", "browser_info", "text"},
    {"dim_device", "browser", "text"}, {"dim_device", "os", "text"},
    {"dim_device", "attr_time", "int8"}, {"dim_device", "attr_code", "int4"},
    {"fact_product_views", "date_key", "int4"},
    {"fact_product_views", "product_key", "int4"},
    {"fact_product_views", "country_key", "int4"},
    {"fact_product_views", "referrer_key", "int4"},
    {"fact_product_views", "device_key", "int4"},
    {"fact_product_views", "view_count", "int8"},
    {"fact_product_views", "unique_visitors", "int8"},
    {"fact_product_views", "first_view_time", "timestamp"},
    {"fact_product_views", "last_view_time", "timestamp"},
    {"fact_product_views", "view_duration_seconds", "int8"},
    {"fact_product_views", "avg_view_timestamp", "float8"},
    {"fact_product_views", "processed_at", "timestamptz"},
    {"etl_run_ledger", "run_id", "int8"}, {"etl_run_ledger", "started_at", "timestamptz"},
    {"etl_run_ledger", "finished_at", "timestamptz"}, {"etl_run_ledger", "status", "text"},
    {"etl_run_ledger", "dates", "_date"}, {"etl_run_ledger", "inputs", "jsonb"},
    {"etl_run_ledger", "counts", "jsonb"}, {"etl_run_ledger", "fact_rows", "int8"},
    {"etl_run_ledger", "fact_checksum", "text"}, {"etl_run_ledger", "timings", "jsonb"},
    {"etl_run_ledger", "host", "text"}, {"etl_run_ledger", "error", "text"},
    {"etl_run_ledger", "work", "jsonb"},
    {"pv_applied_segment", "name", "text"}, {"pv_applied_segment", "file_bytes", "int8"},
    {"pv_applied_segment", "footer_crc", "int8"}, {"pv_applied_segment", "records", "int8"},
    {"pv_applied_segment", "source_kind", "text"}, {"pv_applied_segment", "source", "text"},
    {"pv_applied_segment", "run_id", "int8"}, {"pv_applied_segment", "pruned_at", "timestamptz"},
    {"pv_applied_segment_range", "segment", "text"},
    {"pv_applied_segment_range", "partition", "int4"},
    {"pv_applied_segment_range", "first_offset", "int8"},
    {"pv_applied_segment_range", "last_offset", "int8"},
    {"pv_applied_segment_range", "start_position", "int8"},
    {"pv_applied_segment_range", "end_position", "int8"},
    {"pv_applied_segment_range", "records", "int8"},
    {"pv_applied_segment_day", "segment", "text"}, {"pv_applied_segment_day", "day", "date"},
    {"pv_applied_segment_day", "events", "int8"}, {"pv_applied_segment_day", "loaded", "bool"},
};

}  // namespace

absl::Status CheckSchema(PgConnection* conn) {
  std::set<std::string> tables;
  for (const ExpectedColumn& c : kExpectedColumns) tables.insert(c.table);
  PV_ASSIGN_OR_RETURN(
      PgResult r,
      conn->Query("SELECT table_name, column_name, udt_name, is_nullable = 'YES', "
                  "column_default IS NOT NULL OR is_identity = 'YES' "
                  "FROM information_schema.columns WHERE table_schema = 'public' AND "
                  "table_name = ANY ($1::text[])",
                  {absl::StrCat("{", absl::StrJoin(tables, ","), "}")}));
  struct Found {
    std::string type;
    bool nullable, has_default;
  };
  std::map<std::pair<std::string, std::string>, Found> found;
  for (int i = 0; i < r.rows(); ++i) {
    found[{std::string(r.Get(i, 0)), std::string(r.Get(i, 1))}] = {
        std::string(r.Get(i, 2)), r.Get(i, 3) == "t", r.Get(i, 4) == "t"};
  }
  std::vector<std::string> problems;
  std::set<std::pair<std::string, std::string>> expected;
  for (const ExpectedColumn& c : kExpectedColumns) {
    expected.insert({c.table, c.column});
    auto it = found.find({c.table, c.column});
    if (it == found.end()) {
      problems.push_back(absl::StrCat("column ", c.table, ".", c.column, " is missing"));
    } else if (it->second.type != c.type) {
      problems.push_back(absl::StrCat("column ", c.table, ".", c.column, " is ",
                                      it->second.type, ", the loader writes ", c.type));
    }
  }
  for (const auto& [where, f] : found) {
    // Added outside our migrations: fine while a load can leave it empty.
    if (!expected.count(where) && !f.nullable && !f.has_default) {
      problems.push_back(absl::StrCat("column ", where.first, ".", where.second,
                                      " (not one of ours) is NOT NULL without a default, so "
                                      "no row the loader writes can satisfy it"));
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "the warehouse's tables are not what the loader writes (", conn->Describe(), "): ",
      absl::StrJoin(problems, "; "),
      ". Nothing was written. Restore the columns as sql/ defines them (a nullable column "
      "of your own may be added to any table)"));
}

absl::StatusOr<LoadStats> WarehouseLoader::Load(const StarBatch& batch,
                                                const RunDescription& run,
                                                const RecordUpdate& update) {
  LoadStats stats;
  // Nothing is written before the tables are known to be what it writes.
  PV_RETURN_IF_ERROR(CheckSchema(conn_));
  PV_RETURN_IF_ERROR(ApplyStatementTimeout(conn_));
  // One load at a time per database, held across the staging phase too;
  // a session lock, so it is released if this process dies.
  PV_RETURN_IF_ERROR(
      conn_->Exec(absl::StrCat("SELECT pg_advisory_lock(", kLoadLockId, ")")));
  // What a crashed load left in pv_staging is garbage now.
  absl::Status status = DropStaging(conn_);
  if (status.ok()) status = conn_->Exec("BEGIN");
  if (status.ok()) {
    status = LoadInTransaction(batch, run, update, &stats);
    if (status.ok()) {
      absl::Time t = absl::Now();
      status = Annotate(conn_->Exec("COMMIT"), "commit");
      stats.commit_seconds = Seconds(t);
    } else {
      // If the connection is gone the server rolls back by itself.
      (void)conn_->Exec("ROLLBACK");
    }
  }
  if (!status.ok()) (void)DropStaging(conn_);
  (void)conn_->Exec(absl::StrCat("SELECT pg_advisory_unlock(", kLoadLockId, ")"));
  if (!status.ok()) return status;
  return stats;
}

absl::Status WarehouseLoader::LoadInTransaction(const StarBatch& batch,
                                                const RunDescription& run,
                                                const RecordUpdate& update, LoadStats* stats) {

  PV_RETURN_IF_ERROR(conn_->SetConfig("maintenance_work_mem", options_.maintenance_work_mem,
                                      /*local=*/true));
  PV_RETURN_IF_ERROR(conn_->SetConfig("work_mem", options_.work_mem, /*local=*/true));

  // The fact streams' connections and empty partitions, opened while the
  // keys are planned here.
  std::vector<std::unique_ptr<PgConnection>> side;
  absl::Status opened;
  ScopedThread opener([&] { opened = OpenStaging(batch.fact_days, &side); });

  // 1. Dimensions: the members' keys first (the lookups), so that the facts
  // can be built while the dimensions are written.
  absl::Time t = absl::Now();
  PV_ASSIGN_OR_RETURN(
      DimensionUpsert products,
      PlanDimension(conn_, {"dim_product", "product_key", "product_id", {}, ""},
                      batch.products, [](size_t, CopyBinaryEncoder&) {},
                      options_.rebuild_indexes_min_rows, options_.streams,
                      &stats->new_members));
  // Stores and devices take a run's attributes only where the run's pick
  // (earliest event, then smallest value) beats the one stored, so that runs
  // over any split of the segments agree with one run over all of them; an
  // equal pick still refreshes what is derived from it (a rule fixed in a
  // newer build).
  PV_ASSIGN_OR_RETURN(
      DimensionUpsert stores,
      PlanDimension(
          conn_,
          {"dim_country",
           "country_key",
           "store_id",
           {{"country_name"},
            {"country_code"},
            {"region"},
            {"continent"},
            {"store_domain"},
            {"attr_time", "bigint"}},
           "s.attr_time IS NOT NULL AND (d.attr_time IS NULL OR (s.attr_time, "
           "s.store_domain COLLATE \"C\") < (d.attr_time, d.store_domain COLLATE \"C\") OR "
           "((s.attr_time, s.store_domain) = (d.attr_time, d.store_domain) AND "
           "(d.country_name, d.country_code, d.region, d.continent) IS DISTINCT FROM "
           "(s.country_name, s.country_code, s.region, s.continent)))"},
          batch.stores,
          [&](size_t i, CopyBinaryEncoder& e) {
            const star::StoreAttributes& a = batch.store_attributes[i];
            const star::Country& c = star::CountryById(a.country);
            e.Text(c.name);
            e.Text(c.code);
            e.Text(c.region);
            e.Text(c.continent);
            e.Text(a.domain);
            if (a.pick_time == star::kNoPick) {
              e.Null();
            } else {
              e.Int8(a.pick_time);
            }
          },
          options_.rebuild_indexes_min_rows, options_.streams, &stats->new_members));
  PV_ASSIGN_OR_RETURN(
      DimensionUpsert referrers,
      PlanDimension(
          conn_,
          {"dim_referrer", "referrer_key", "referrer_url",
           {{"referrer_domain"}, {"referrer_type"}}, ""},
          batch.referrers,
          [&](size_t i, CopyBinaryEncoder& e) {
            const star::ReferrerAttributes& r = batch.referrer_attributes[i];
            e.Text(r.domain);
            e.Text(star::ReferrerTypeName(r.type));
          },
          options_.rebuild_indexes_min_rows, options_.streams, &stats->new_members));
  PV_ASSIGN_OR_RETURN(
      DimensionUpsert devices,
      PlanDimension(
          conn_,
          {"dim_device",
           "device_key",
           "device_id",
           {{"device_type"},
            {"browser_info"},
            {"browser"},
            {"os"},
            {"attr_time", "bigint"},
            {"attr_code", "integer"}},
           "s.attr_time IS NOT NULL AND (d.attr_time IS NULL OR (s.attr_time, s.attr_code) < "
           "(d.attr_time, d.attr_code) OR ((s.attr_time, s.attr_code) = (d.attr_time, "
           "d.attr_code) AND (d.device_type, d.browser_info, d.browser, d.os) IS DISTINCT "
           "FROM (s.device_type, s.browser_info, s.browser, s.os)))"},
          batch.devices,
          [&](size_t i, CopyBinaryEncoder& e) {
            const star::DeviceAttributes& a = batch.device_attributes[i];
            const star::Device& d = a.device;
            e.Text(star::DeviceTypeName(d.type));
            e.Text(absl::StrCat(star::BrowserName(d.browser), " on ", star::OsName(d.os)));
            e.Text(star::BrowserName(d.browser));
            e.Text(star::OsName(d.os));
            if (a.pick_time == star::kNoPick) {
              e.Null();
              e.Null();
            } else {
              e.Int8(a.pick_time);
              e.Int4(static_cast<int32_t>(d.Code()));
            }
          },
          options_.rebuild_indexes_min_rows, options_.streams, &stats->new_members));
  const double lookup_seconds = Seconds(t);
  auto write_dimensions = [&]() -> absl::Status {
    for (DimensionUpsert* d : {&products, &stores, &referrers, &devices}) {
      PV_RETURN_IF_ERROR(d->write());
    }
    std::string data;
    CopyBinaryEncoder e(&data);
    e.Header();
    for (int32_t day : batch.days) {
      const star::CivilDate c = star::CivilFromDay(day);
      e.StartRow(8);
      e.Int4(DateKey(day));
      e.DateFromUnixDay(day);
      e.Int4(c.year);
      e.Int4(c.month);
      e.Int4(c.day);
      e.Int4(c.day_of_week);
      e.Int4(c.week_of_year);
      e.Int4(c.quarter);
    }
    e.Trailer();
    constexpr char kDateColumns[] =
        "date_key, date, year, month, day, day_of_week, week_of_year, quarter";
    PV_RETURN_IF_ERROR(conn_->Exec(absl::StrCat(
        "CREATE TEMP TABLE pv_stage_date ON COMMIT DROP AS SELECT ", kDateColumns,
        " FROM dim_date WITH NO DATA")));
    PV_RETURN_IF_ERROR(conn_->CopyIn(
        absl::StrCat("COPY pv_stage_date (", kDateColumns, ") FROM STDIN (FORMAT binary)"),
        data));
    PV_RETURN_IF_ERROR(conn_->Exec(absl::StrCat(
        "INSERT INTO dim_date (", kDateColumns, ") SELECT ", kDateColumns,
        " FROM pv_stage_date ON CONFLICT (date_key) DO NOTHING")));
    return absl::OkStatus();
  };

  // 2. Facts: each day's partition is built in pv_staging on side
  // connections (parallel COPY streams, then parallel index builds) while
  // this connection writes the dimensions (from now on, on a thread of its
  // own), then swapped in here, inside the transaction.
  absl::Status written;
  t = absl::Now();
  ScopedThread writer([&] {
    written = write_dimensions();
    stats->dimension_seconds = lookup_seconds + Seconds(t);
  });
  stats->fact_rows = static_cast<int64_t>(batch.facts.size());
  std::vector<KeyedFact> keyed = KeyFacts(batch, products.keys, stores.keys, referrers.keys,
                                          devices.keys, options_.streams);
  opener.Join();
  const absl::Status built =
      opened.ok() ? BuildStagedPartitions(batch, keyed, side, stats) : opened;
  writer.Join();
  PV_RETURN_IF_ERROR(written);
  PV_RETURN_IF_ERROR(built);

  for (int32_t day : batch.fact_days) {
    const std::string part = FactPartitionName(day);
    PV_ASSIGN_OR_RETURN(
        PgResult old,
        conn_->Query("SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = "
                     "i.inhrelid WHERE i.inhparent = "
                     "'public.fact_product_views'::regclass AND c.relname = $1",
                     {part}));
    std::string swap;
    if (old.rows() > 0) {
      absl::StrAppend(&swap, "ALTER TABLE public.fact_product_views DETACH PARTITION public.",
                      part, "; DROP TABLE public.", part, ";");
    }
    absl::StrAppend(&swap, "ALTER TABLE pv_staging.", part, " SET SCHEMA public;",
                    "ALTER TABLE public.", part, " RESET (autovacuum_enabled);",
                    "ALTER TABLE public.fact_product_views ATTACH PARTITION public.",
                    part, " FOR VALUES IN (", DateKey(day), ");");
    PV_RETURN_IF_ERROR(SwapPartition(swap, part), "replacing facts of ", DayText(day));
  }

  // 3. The ledger row, committed with the load.
  std::vector<std::string> dates;
  for (int32_t day : batch.fact_days) dates.push_back(DayText(day));
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  PV_ASSIGN_OR_RETURN(
      PgResult ledger,
      conn_->Query(
          "INSERT INTO etl_run_ledger (started_at, finished_at, status, dates, "
          "inputs, counts, fact_rows, fact_checksum, timings, host, work) VALUES "
          "(to_timestamp($1::double precision), clock_timestamp(), 'succeeded', "
          "$2::date[], $3::jsonb, $4::jsonb, $5, $6, $7::jsonb || $9::jsonb, $8, $10::jsonb) "
          "RETURNING run_id",
          {absl::StrFormat("%.6f", absl::ToUnixMicros(run.started) / 1e6),
           absl::StrCat("{", absl::StrJoin(dates, ","), "}"), run.inputs_json,
           run.counts_json, absl::StrCat(stats->fact_rows),
           stats->fact_checksum, run.timings_json, std::string(host),
           absl::StrFormat("{\"load_dimensions\":%.3f,\"load_fact_copy\":%.3f,"
                           "\"load_fact_index\":%.3f}",
                           stats->dimension_seconds, stats->fact_copy_seconds,
                           stats->fact_index_seconds),
           run.work_json}));
  stats->run_id = ledger.GetInt(0, 0);
  PV_RETURN_IF_ERROR(WriteRecord(batch, update, stats->run_id), "recording the applied segments");
  return absl::OkStatus();
}

absl::Status WarehouseLoader::RecordFailure(const RunDescription& run,
                                            const std::vector<int32_t>& days,
                                            absl::string_view error) {
  std::vector<std::string> dates;
  for (int32_t day : days) dates.push_back(DayText(day));
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return conn_
      ->Query("INSERT INTO etl_run_ledger (started_at, finished_at, status, "
              "dates, inputs, counts, fact_rows, fact_checksum, timings, host, "
              "error, work) VALUES (to_timestamp($1::double precision), clock_timestamp(), "
              "'failed', $2::date[], $3::jsonb, $4::jsonb, 0, '', $5::jsonb, "
              "$6, $7, $8::jsonb)",
              {absl::StrFormat("%.6f", absl::ToUnixMicros(run.started) / 1e6),
               absl::StrCat("{", absl::StrJoin(dates, ","), "}"),
               run.inputs_json, run.counts_json, run.timings_json, std::string(host),
               std::string(error), run.work_json})
      .status();
}

}  // namespace pv::warehouse
