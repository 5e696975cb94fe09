#include "cc/etl/pg_warehouse.h"

#include <memory>
#include <utility>

#include "cc/common/status.h"
#include "cc/warehouse/loader.h"
#include "cc/warehouse/pg.h"
#include "cc/warehouse/schema.h"

namespace pv::etl {
namespace {

class PgWarehouse : public BatchWarehouse {
 public:
  PgWarehouse(std::unique_ptr<warehouse::PgConnection> conn, warehouse::LoaderOptions options)
      : conn_(std::move(conn)), loader_(conn_.get(), std::move(options)) {}

  absl::StatusOr<warehouse::WarehouseRecord> ReadRecord(bool lock) override {
    return loader_.ReadRecord(lock);
  }

  absl::StatusOr<warehouse::LoadStats> Load(const star::StarBatch& batch,
                                            const warehouse::RunDescription& run,
                                            const warehouse::RecordUpdate& update) override {
    return loader_.Load(batch, run, update);
  }

  absl::Status RecordFailure(const warehouse::RunDescription& run,
                             const std::vector<int32_t>& days,
                             absl::string_view error) override {
    return loader_.RecordFailure(run, days, error);
  }

 private:
  std::unique_ptr<warehouse::PgConnection> conn_;
  warehouse::WarehouseLoader loader_;
};

}  // namespace

WarehouseConnector PostgresWarehouse(warehouse::LoaderOptions options) {
  return [options]() -> absl::StatusOr<std::unique_ptr<BatchWarehouse>> {
    PV_ASSIGN_OR_RETURN(std::unique_ptr<warehouse::PgConnection> conn,
                        warehouse::PgConnection::Connect(options.conninfo));
    PV_RETURN_IF_ERROR(warehouse::Migrate(conn.get()).status());
    // Before the scan: a drifted schema fails the run in seconds.
    PV_RETURN_IF_ERROR(warehouse::CheckSchema(conn.get()));
    return std::unique_ptr<BatchWarehouse>(new PgWarehouse(std::move(conn), options));
  };
}

}  // namespace pv::etl
