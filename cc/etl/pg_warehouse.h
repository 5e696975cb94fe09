// The batch run policy's warehouse (batch_run.h's BatchWarehouse) over
// PostgreSQL: connect, apply the migrations of sql/, load with the
// one-transaction WarehouseLoader (cc/warehouse/loader.h).
#ifndef PV_ETL_PG_WAREHOUSE_H_
#define PV_ETL_PG_WAREHOUSE_H_

#include <string>

#include "cc/etl/batch_run.h"
#include "cc/warehouse/loader.h"

namespace pv::etl {

// A connector for BatchOptions::connect. `options.conninfo` is the
// connection of the side connections too (see LoaderOptions).
WarehouseConnector PostgresWarehouse(warehouse::LoaderOptions options);

}  // namespace pv::etl

#endif  // PV_ETL_PG_WAREHOUSE_H_
