// WarehouseLoader: writes one run's StarBatch into the PostgreSQL star schema
// in ONE transaction, so a failure at any point leaves the warehouse as it
// was:
//
//   1. dimension members are staged with binary COPY into temporary tables,
//      new members get the next surrogate keys (in natural-key order, so the
//      keys do not depend on thread scheduling), existing members keep theirs
//      and get their derived attributes refreshed; the keys of all members are
//      read back with COPY TO;
//   2. each fact day is built off to the side, in schema pv_staging, on
//      `streams` side connections: a new table with a CHECK on its date,
//      filled by parallel binary COPY streams (rows sorted by grain), then
//      indexed (index builds spread over the connections); inside the
//      transaction it is moved into public and swapped in for the day's old
//      partition (detach + drop + attach), so a rerun replaces the day
//      instead of appending to it. Staged tables are invisible to queries;
//      a failed load drops them, and a crashed load's are dropped by the next;
//   3. the record of applied segments is updated (pv_applied_segment*: the
//      run's new segments, and every segment of a reloaded day marked
//      loaded for it), a ledger row (etl_run_ledger) is inserted, and the
//      transaction commits.
//
// Runs are serialized by a session advisory lock on the main connection,
// held from ReadRecord (a nightly run plans from the record) until the load
// ends or the connection closes. The loader
// expects the schema of sql/ (cc/warehouse/schema.h) to be applied.
#ifndef PV_WAREHOUSE_LOADER_H_
#define PV_WAREHOUSE_LOADER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cc/warehouse/pg.h"
#include "cc/star/star_batch.h"
#include "cc/warehouse/run_record.h"

namespace pv::warehouse {

using star::FactRow;
using star::StarBatch;

struct LoaderOptions {
  // Connection string for the side connections that build fact partitions
  // (the same database as the main connection; libpq's environment applies).
  std::string conninfo;
  // Side connections: parallel COPY streams and index builds.
  int streams = 2;
  // PostgreSQL parallel workers per index build (max_parallel_maintenance_workers).
  int index_workers = 0;
  std::string maintenance_work_mem = "256MB";
  // work_mem of the load's transaction: the dimension lookups' hash joins
  // keep a night's staged members in memory (PostgreSQL's default 4MB
  // spilled ~60k devices to disk, doubling the join).
  std::string work_mem = "128MB";
  // A dimension receiving at least this many new members, and more than it
  // already has, gets its indexes dropped and rebuilt around the COPY
  // (first loads, backfills): cheaper than maintaining them row by row.
  size_t rebuild_indexes_min_rows = 50000;
  // Replacing a day's partition needs an ACCESS EXCLUSIVE lock on it and on
  // fact_product_views, which a reader of the facts holds until its
  // transaction ends. The swap waits at most lock_timeout per try, and tries
  // lock_tries times (with growing pauses); then the load fails naming the
  // sessions that held the lock, the warehouse unchanged.
  absl::Duration lock_timeout = absl::Seconds(10);
  int lock_tries = 6;
  // statement_timeout on every connection of the load; zero: none.
  absl::Duration statement_timeout = absl::ZeroDuration();
};

// A fact row with its surrogate keys, sortable by grain.
struct KeyedFact {
  int32_t date_key;
  int32_t product, store, referrer, device;
  uint32_t row;  // index into StarBatch::facts
  bool operator<(const KeyedFact& o) const {
    if (date_key != o.date_key) return date_key < o.date_key;
    if (product != o.product) return product < o.product;
    if (store != o.store) return store < o.store;
    if (referrer != o.referrer) return referrer < o.referrer;
    return device < o.device;
  }
};

class WarehouseLoader {
 public:
  WarehouseLoader(PgConnection* conn, LoaderOptions options)
      : conn_(conn), options_(std::move(options)) {}

  // Reads the record of applied segments; with `lock`, first takes the run
  // lock (waits for a run that holds it), held until Unlock() or the end of
  // the session.
  absl::StatusOr<WarehouseRecord> ReadRecord(bool lock);
  void Unlock();

  // Marks applied segments as pruned (the retention tool removed them).
  absl::Status MarkPruned(const std::vector<std::string>& names);

  // Loads `batch` in one transaction (see above), adding `update` to the
  // record. On error the transaction is rolled back and the error returned;
  // nothing of the run remains.
  absl::StatusOr<LoadStats> Load(const StarBatch& batch, const RunDescription& run,
                                 const RecordUpdate& update);

  // Records a failed run in the ledger (outside any transaction).
  absl::Status RecordFailure(const RunDescription& run,
                             const std::vector<int32_t>& days,
                             absl::string_view error);

 private:
  // Opens the side connections (options_.streams) and creates each fact
  // day's empty staging partition.
  absl::Status OpenStaging(const std::vector<int32_t>& fact_days,
                           std::vector<std::unique_ptr<PgConnection>>* side) const;
  absl::Status BuildStagedPartitions(const StarBatch& batch,
                                     const std::vector<KeyedFact>& keyed,
                                     std::vector<std::unique_ptr<PgConnection>>& side,
                                     LoadStats* stats);
  static absl::Status DropStaging(PgConnection* conn);
  absl::Status ApplyStatementTimeout(PgConnection* conn) const;
  // Runs `swap` (replacing partition `part`) under lock_timeout, in a
  // savepoint, retrying (see LoaderOptions::lock_timeout).
  absl::Status SwapPartition(const std::string& swap, const std::string& part);
  absl::Status LoadInTransaction(const StarBatch& batch, const RunDescription& run,
                                 const RecordUpdate& update, LoadStats* stats);
  absl::Status WriteRecord(const StarBatch& batch, const RecordUpdate& update,
                           int64_t run_id);

  PgConnection* conn_;
  LoaderOptions options_;
};

// Checks that the columns the loader reads and writes exist with their
// types, and that no column added by someone else would make its rows fail
// (NOT NULL without a default). kFailedPrecondition naming every problem;
// called by Load before anything is written.
absl::Status CheckSchema(PgConnection* conn);

// "fact_product_views_d20240131" for a day number.
std::string FactPartitionName(int32_t day);
// An order-independent digest of fact rows as keyed in the warehouse: Add
// every row once, in any order and on any number of accumulators, Merge
// them; Text is the ledger's fact_checksum.
class FactChecksumAccumulator {
 public:
  void Add(const KeyedFact& k, const FactRow& f);
  void Merge(const FactChecksumAccumulator& o) {
    sum_ += o.sum_;
    mix_ ^= o.mix_;
  }
  std::string Text() const;

 private:
  uint64_t sum_ = 0, mix_ = 0;
};

// The facts of `batch` with their surrogate keys (`products[ordinal]`, ...),
// in the order the load writes them: by day in `batch.fact_days` order (rows
// of any other day last), each day sorted by KeyedFact's operator<. Runs on
// `threads` threads.
std::vector<KeyedFact> KeyFacts(const StarBatch& batch, const std::vector<int32_t>& products,
                                const std::vector<int32_t>& stores,
                                const std::vector<int32_t>& referrers,
                                const std::vector<int32_t>& devices, int threads);

}  // namespace pv::warehouse

#endif  // PV_WAREHOUSE_LOADER_H_
