#include "cc/common/metrics_server.h"

#include <CivetServer.h>  // CivetCallbacks
#include <civetweb.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace pv {

// ---------------------------------------------------------------------------
// StageHealth

StageHealth::StageHealth(absl::Duration stall_after)
    : stall_after_(stall_after), last_progress_(absl::Now()) {}

void StageHealth::Progress(absl::Time now) {
  absl::MutexLock lock(&mu_);
  last_progress_ = std::max(last_progress_, now);
}

void StageHealth::SetBacklog(int64_t messages, absl::Time now) {
  absl::MutexLock lock(&mu_);
  backlog_ = messages;
  if (messages == 0) last_progress_ = std::max(last_progress_, now);
}

void StageHealth::SetFailing(absl::string_view reason) {
  absl::MutexLock lock(&mu_);
  failing_ = reason.empty() ? "failing" : std::string(reason);
}

void StageHealth::ClearFailing() {
  absl::MutexLock lock(&mu_);
  failing_.clear();
}

absl::Status StageHealth::Check(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  if (!failing_.empty()) return absl::UnavailableError(failing_);
  const absl::Duration idle = now - last_progress_;
  if (backlog_ > 0 && idle > stall_after_) {
    return absl::UnavailableError(
        absl::StrCat("stuck: no progress for ", absl::FormatDuration(absl::Trunc(idle, absl::Seconds(1))),
                     " (limit ", absl::FormatDuration(stall_after_), ") with ", backlog_,
                     " messages waiting"));
  }
  return absl::OkStatus();
}

absl::Time StageHealth::last_progress() const {
  absl::MutexLock lock(&mu_);
  return last_progress_;
}

// ---------------------------------------------------------------------------
// MetricsServer

namespace {

// civetweb hands begin_request only the connection (its user data is the
// Exposer's CivetServer), so /healthz finds its StageHealth by the port the
// request came in on.
absl::Mutex health_mu(absl::kConstInit);
absl::flat_hash_map<int, const StageHealth*>& HealthByPort() ABSL_EXCLUSIVE_LOCKS_REQUIRED(health_mu) {
  static auto* map = new absl::flat_hash_map<int, const StageHealth*>();
  return *map;
}

// Runs on a civetweb thread for every request before the Exposer's handlers:
// 0 lets them answer, a status code means this function answered.
int BeginRequest(mg_connection* conn) {
  const mg_request_info* ri = mg_get_request_info(conn);
  if (ri == nullptr || ri->local_uri == nullptr || std::strcmp(ri->local_uri, "/healthz") != 0) {
    return 0;
  }
  absl::Status status;
  {
    absl::MutexLock lock(&health_mu);
    auto it = HealthByPort().find(ri->server_port);
    if (it == HealthByPort().end()) return 0;  // still starting or stopping: 404
    status = it->second->Check();
  }
  const std::string body = status.ok() ? "ok\n" : absl::StrCat(status.message(), "\n");
  const int code = status.ok() ? 200 : 503;
  mg_printf(conn,
            "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: %zu\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
            status.ok() ? "200 OK" : "503 Service Unavailable", body.size());
  mg_write(conn, body.data(), body.size());
  return code;
}

prometheus::MetricFamily Gauge(std::string name, std::string help, double value) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = prometheus::MetricType::Gauge;
  prometheus::ClientMetric metric;
  metric.gauge.value = value;
  family.metric.push_back(std::move(metric));
  return family;
}

}  // namespace

// pv_<stage>_healthy and pv_<stage>_last_progress_timestamp_seconds, computed
// at scrape time so that a blocked stage thread still reads as unhealthy.
class MetricsServer::HealthCollectable : public prometheus::Collectable {
 public:
  HealthCollectable(std::string stage, const StageHealth* health)
      : stage_(std::move(stage)), health_(health) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    out.push_back(Gauge(absl::StrCat("pv_", stage_, "_healthy"),
                        absl::StrCat("1 while ", stage_, "'s /healthz answers 200 (making progress, "
                                     "nothing failing), else 0"),
                        health_->Check().ok() ? 1 : 0));
    out.push_back(Gauge(absl::StrCat("pv_", stage_, "_last_progress_timestamp_seconds"),
                        "When the stage last made progress or had nothing to do (Unix time)",
                        absl::ToDoubleSeconds(health_->last_progress() - absl::UnixEpoch())));
    return out;
  }

 private:
  const std::string stage_;
  const StageHealth* const health_;
};

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    absl::string_view address, absl::string_view stage,
    std::shared_ptr<prometheus::Registry> registry, const StageHealth* health) {
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics address '", address, "': expected HOST:PORT, e.g. 127.0.0.1:9464"));
  }
  const std::string host(address.substr(0, colon));
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  CivetCallbacks callbacks;  // zero-filled by its constructor; copied by the server
  callbacks.begin_request = BeginRequest;
  try {
    server->exposer_ =
        std::make_unique<prometheus::Exposer>(std::string(address), /*num_threads=*/2, &callbacks);
  } catch (const std::exception& e) {
    // civetweb says only "null context ... Possible problem binding to port."
    return absl::UnavailableError(absl::StrCat(
        "metrics: cannot listen on ", address,
        " (port in use, or not an address of this machine; IPv6 is not supported): ", e.what()));
  }
  const std::vector<int> ports = server->exposer_->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(absl::StrCat("metrics: not listening on ", address));
  }
  server->port_ = ports.front();
  server->address_ = absl::StrCat(host, ":", server->port_);
  server->registry_ = std::move(registry);
  server->health_metrics_ = std::make_shared<HealthCollectable>(std::string(stage), health);
  server->exposer_->RegisterCollectable(server->registry_);
  server->exposer_->RegisterCollectable(server->health_metrics_);
  absl::MutexLock lock(&health_mu);
  HealthByPort()[server->port_] = health;
  return server;
}

MetricsServer::~MetricsServer() {
  {
    absl::MutexLock lock(&health_mu);
    HealthByPort().erase(port_);
  }
  exposer_.reset();  // stops civetweb before the collectables go
}

}  // namespace pv
