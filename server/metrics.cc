#include "server/metrics.h"

#include <cstdio>

namespace sluice {
namespace {

std::vector<double> LatencyBounds() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {}

void Histogram::Observe(double value) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (value <= bounds_[i]) {
      ++counts_[i];
      break;
    }
  }
  ++count_;
  sum_ += value;
}

void Histogram::Render(const std::string& name, const std::string& labels, std::string* out) const {
  const std::string sep = labels.empty() ? "" : ",";
  int64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    *out += name + "_bucket{" + labels + sep + "le=\"" + Number(bounds_[i]) + "\"} " +
            std::to_string(cumulative) + "\n";
  }
  *out += name + "_bucket{" + labels + sep + "le=\"+Inf\"} " + std::to_string(count_) + "\n";
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  *out += name + "_sum" + braces + " " + Number(sum_) + "\n";
  *out += name + "_count" + braces + " " + std::to_string(count_) + "\n";
}

Metrics::Metrics() : cycle_seconds(LatencyBounds()) {}

void Metrics::ObserveApi(const std::string& method, double seconds) {
  auto it = api_seconds.find(method);
  if (it == api_seconds.end()) it = api_seconds.emplace(method, Histogram(LatencyBounds())).first;
  it->second.Observe(seconds);
}

void Metrics::Render(std::string* out) const {
  *out += "# HELP sluice_scheduling_cycle_duration_seconds Time one scheduling cycle took.\n";
  *out += "# TYPE sluice_scheduling_cycle_duration_seconds histogram\n";
  cycle_seconds.Render("sluice_scheduling_cycle_duration_seconds", "", out);
  *out +=
      "# HELP sluice_api_request_duration_seconds Time from a request's arrival to its reply.\n";
  *out += "# TYPE sluice_api_request_duration_seconds histogram\n";
  for (const auto& [method, h] : api_seconds) {
    h.Render("sluice_api_request_duration_seconds", "method=\"" + PromLabel(method) + "\"", out);
  }
  auto counter = [out](const char* name, const char* help, int64_t v) {
    *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
            " " + std::to_string(v) + "\n";
  };
  counter("sluice_scheduling_cycles_total", "Scheduling cycles run.", cycles);
  counter("sluice_binds_total", "Workloads (or added pods) bound to GPUs.", binds);
  counter("sluice_evictions_total", "Workloads evicted by reclaim, preemption or consolidation.",
          evictions);
  counter("sluice_submissions_total", "Workloads accepted.", submissions);
}

std::string PromLabel(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace sluice
