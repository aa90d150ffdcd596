#include "server/inventory.h"

#include <charconv>

#include "common/quantity.h"

namespace sluice {
namespace {

// "H100-80GB" -> 80 GiB in MiB; 0 when the model does not say.
int64_t MemoryFromModel(std::string_view model) {
  if (model.size() < 3 || model.substr(model.size() - 2) != "GB") return 0;
  size_t end = model.size() - 2;
  size_t start = end;
  while (start > 0 && model[start - 1] >= '0' && model[start - 1] <= '9') --start;
  if (start == end || start == 0 || model[start - 1] != '-') return 0;
  int64_t gb = 0;
  std::from_chars(model.data() + start, model.data() + end, gb);
  return gb * 1024;
}

Result<Node> ParseGroup(std::string_view group, int index) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("--gpus: \"" + std::string(group) + "\": " + why +
                                   "; expected COUNTxMODEL[:MEMORY], e.g. 8xH100-80GB or "
                                   "4xA100:40Gi");
  };
  size_t x = group.find('x');
  if (x == std::string_view::npos || x == 0) return bad("no GPU count");
  int64_t count = 0;
  auto [ptr, ec] = std::from_chars(group.data(), group.data() + x, count);
  if (ec != std::errc() || ptr != group.data() + x || count < 1 || count > kMaxGpusPerNode) {
    return bad("the count must be a whole number from 1 to " + std::to_string(kMaxGpusPerNode));
  }
  std::string_view rest = group.substr(x + 1);
  std::string_view model = rest;
  int64_t memory = 0;
  if (size_t colon = rest.find(':'); colon != std::string_view::npos) {
    model = rest.substr(0, colon);
    Result<int64_t> m = ParseMemoryMiB(rest.substr(colon + 1));
    if (!m.ok()) return bad(m.status().message());
    memory = *m;
  } else {
    memory = MemoryFromModel(model);
  }
  if (model.empty()) return bad("no GPU model");
  Node n;
  n.name = "sim-" + std::to_string(index);
  n.gpus = static_cast<int32_t>(count);
  n.gpu_model = std::string(model);
  n.gpu_memory_mib = memory;
  return n;
}

}  // namespace

Result<std::vector<Node>> ParseGpuInventory(std::string_view spec, const std::string& hostname) {
  if (spec == "auto") {
    Result<std::vector<Node>> nodes = ParseGpuInventory("sim:8xH100-80GB", hostname);
    if (nodes.ok() && !hostname.empty()) nodes.value()[0].name = hostname;
    return nodes;
  }
  if (spec.substr(0, 4) != "sim:") {
    return Status::InvalidArgument("--gpus: expected auto or sim:COUNTxMODEL[,...], got \"" +
                                   std::string(spec) + "\"");
  }
  std::vector<Node> nodes;
  std::string_view rest = spec.substr(4);
  while (true) {
    size_t comma = rest.find(',');
    Result<Node> n = ParseGroup(rest.substr(0, comma), static_cast<int>(nodes.size()));
    if (!n.ok()) return n.status();
    nodes.push_back(*n);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return nodes;
}

}  // namespace sluice
