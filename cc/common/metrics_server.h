// The operations endpoint of a long-running stage (mirror, consume): an HTTP
// server on HOST:PORT, built on prometheus-cpp's pull Exposer, that serves
//
//   GET /metrics   the stage's registry in Prometheus' text format, plus
//                  pv_<stage>_healthy (1/0) and
//                  pv_<stage>_last_progress_timestamp_seconds, both computed
//                  when scraped;
//   GET /healthz   200 "ok", or 503 with the reason when StageHealth says the
//                  stage is stuck or failing.
//
//   auto registry = std::make_shared<prometheus::Registry>();
//   pv::StageHealth health(absl::Minutes(2));
//   PV_ASSIGN_OR_RETURN(std::unique_ptr<pv::MetricsServer> server,
//                       pv::MetricsServer::Start("127.0.0.1:9464", "consume",
//                                                registry, &health));
//   ... the stage's loop: health.Progress(); health.SetBacklog(lag); ...
//
// Both endpoints are answered on the server's own threads, so they still
// answer (503) when the stage's thread is blocked.
#ifndef PV_COMMON_METRICS_SERVER_H_
#define PV_COMMON_METRICS_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace prometheus {
class Exposer;
class Registry;
}  // namespace prometheus

namespace pv {

// Whether a stage is healthy: it is not when something it must do keeps
// failing (SetFailing: a publish, a transaction, a commit), or when it made
// no progress for `stall_after` although work was waiting (backlog > 0).
// Time without backlog counts as progress, so a quiet topic is healthy and
// the first message after an idle hour does not look like a stall.
// Thread-safe: the stage reports from its thread, HTTP threads Check().
class StageHealth {
 public:
  explicit StageHealth(absl::Duration stall_after);

  // The stage did work (consumed, produced, published) at `now`.
  void Progress(absl::Time now = absl::Now());
  // Messages waiting for the stage at `now`; negative: unknown (never
  // unhealthy on its own account).
  void SetBacklog(int64_t messages, absl::Time now = absl::Now());
  // Something the stage must do is failing, and why; ClearFailing() once it
  // worked again.
  void SetFailing(absl::string_view reason);
  void ClearFailing();

  // OK, or kUnavailable saying why not.
  absl::Status Check(absl::Time now = absl::Now()) const;
  // The later of the last progress and the last time nothing was waiting.
  absl::Time last_progress() const;
  absl::Duration stall_after() const { return stall_after_; }

 private:
  const absl::Duration stall_after_;
  mutable absl::Mutex mu_;
  absl::Time last_progress_ ABSL_GUARDED_BY(mu_);
  int64_t backlog_ ABSL_GUARDED_BY(mu_) = -1;
  std::string failing_ ABSL_GUARDED_BY(mu_);
};

class MetricsServer {
 public:
  // Listens on `address`, "HOST:PORT" (port 0: any free port, see port()),
  // e.g. "127.0.0.1:9464", or "0.0.0.0:9464" in a container. `stage` names
  // the health metrics (pv_<stage>_healthy). `registry` is shared; `health`
  // is borrowed and must outlive the server. Errors: kInvalidArgument for an
  // address that is not HOST:PORT, kUnavailable naming the address when it
  // cannot be bound (in use, not an address of this machine).
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      absl::string_view address, absl::string_view stage,
      std::shared_ptr<prometheus::Registry> registry, const StageHealth* health);

  // Stops serving (waits for requests in progress).
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The port listened on.
  int port() const { return port_; }
  // "HOST:PORT" with the real port.
  const std::string& address() const { return address_; }

 private:
  MetricsServer() = default;
  class HealthCollectable;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<HealthCollectable> health_metrics_;
  int port_ = 0;
  std::string address_;
};

}  // namespace pv

#endif  // PV_COMMON_METRICS_SERVER_H_
