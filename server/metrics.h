// Counters and latency histograms the server exports at /metrics in the
// Prometheus text format. Gauges that describe state (fair share,
// allocation) are rendered from the control plane at scrape time instead.
// Thread-compatible: used on the server's one thread.
#ifndef SLUICE_SERVER_METRICS_H_
#define SLUICE_SERVER_METRICS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sluice {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  // Appends `name`'s _bucket, _sum and _count lines; `labels` like `method="GET"` or "".
  void Render(const std::string& name, const std::string& labels, std::string* out) const;

 private:
  std::vector<double> bounds_;
  std::vector<int64_t> counts_;  // per bound, not cumulative
  int64_t count_ = 0;
  double sum_ = 0;
};

struct Metrics {
  Metrics();
  Histogram cycle_seconds;
  std::map<std::string, Histogram> api_seconds;  // by method
  int64_t cycles = 0;
  int64_t binds = 0;
  int64_t evictions = 0;
  int64_t submissions = 0;

  void ObserveApi(const std::string& method, double seconds);
  void Render(std::string* out) const;
};

// Escapes a label value for the text format.
std::string PromLabel(const std::string& value);

}  // namespace sluice

#endif  // SLUICE_SERVER_METRICS_H_
