#include "k8s/webhook/admission.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>

#include "common/quantity.h"

namespace sluice::k8s {
namespace {

using nlohmann::json;

// The most GPUs one fractional pod may spread over; more is a typo.
constexpr int64_t kMaxShareDevices = 64;

// obj[key] when obj is an object that has it, else nullptr. Admission
// bodies come from the API server but are still parsed defensively: a
// wrong type is a refusal, never an exception.
const json* Field(const json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// An annotation's value, or nullptr when absent. Annotations are strings
// by the API's schema; a non-string one is reported as one.
Result<const std::string*> Annotation(const json& pod, std::string_view key) {
  const json* meta = Field(pod, "metadata");
  const json* annotations = meta ? Field(*meta, "annotations") : nullptr;
  const json* value = annotations ? Field(*annotations, key) : nullptr;
  if (value == nullptr) return static_cast<const std::string*>(nullptr);
  if (!value->is_string()) {
    return Status::InvalidArgument("annotation " + std::string(key) + " must be a string");
  }
  return value->get_ptr<const std::string*>();
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Result<int64_t> ParseFraction(const std::string& text) {
  Result<int64_t> milli = ParseMilli(text);
  if (!milli.ok() || *milli <= 0 || *milli >= 1000) {
    return Status::InvalidArgument(
        "annotation " + std::string(kGpuFractionAnnotation) + ": " + Quote(text) +
        " is not a fraction of a GPU; expected a decimal between 0 and 1 (exclusive) with at "
        "most 3 decimals, e.g. \"0.5\" (for whole GPUs, request nvidia.com/gpu instead)");
  }
  return *milli;
}

Result<int64_t> ParseShareMemory(const std::string& text) {
  // A plain number means MiB here (the Run:ai convention), unlike a
  // Kubernetes quantity where it would mean bytes.
  Result<int64_t> mib = AllDigits(text) && text.size() <= 12 ? Result<int64_t>(std::stoll(text))
                                                             : ParseMemoryMiB(text);
  if (!mib.ok() || *mib <= 0) {
    return Status::InvalidArgument(
        "annotation " + std::string(kGpuMemoryAnnotation) + ": " + Quote(text) +
        " is not an amount of GPU memory; expected a Kubernetes quantity such as \"20Gi\" or "
        "\"20480Mi\", or a plain number of MiB, greater than zero");
  }
  return *mib;
}

Result<int64_t> ParseShareDevices(const std::string& text) {
  if (!AllDigits(text) || text.size() > 3 || std::stoll(text) < 1 ||
      std::stoll(text) > kMaxShareDevices) {
    return Status::InvalidArgument("annotation " + std::string(kGpuDevicesAnnotation) + ": " +
                                   Quote(text) + " is not a number of GPUs; expected a whole " +
                                   "number from 1 to " + std::to_string(kMaxShareDevices));
  }
  return std::stoll(text);
}

// The containers and init containers of `pod`, each with the field name
// its list has, for messages.
template <typename Fn>
void ForEachContainer(const json& pod, bool include_init, Fn fn) {
  const json* spec = Field(pod, "spec");
  if (spec == nullptr) return;
  for (const char* list : {"containers", "initContainers"}) {
    if (!include_init && std::string_view(list) == "initContainers") break;
    const json* containers = Field(*spec, list);
    if (containers == nullptr || !containers->is_array()) continue;
    for (size_t i = 0; i < containers->size(); ++i) fn(list, i, (*containers)[i]);
  }
}

std::string ContainerName(const json& container, const char* list, size_t i) {
  const json* name = Field(container, "name");
  if (name != nullptr && name->is_string()) return Quote(name->get<std::string>());
  return std::string(list) + "[" + std::to_string(i) + "]";
}

// resources.<kind>["nvidia.com/gpu"] of `container`, or nullptr.
const json* GpuResource(const json& container, std::string_view kind) {
  const json* resources = Field(container, "resources");
  const json* amounts = resources ? Field(*resources, kind) : nullptr;
  return amounts ? Field(*amounts, kNvidiaGpuResource) : nullptr;
}

// A whole-GPU amount in thousandths; quantities may be JSON numbers or
// strings ("1", "2000m").
Result<int64_t> GpuAmountMilli(const json& value) {
  if (value.is_number_integer()) return value.get<int64_t>() * 1000;
  if (value.is_number()) return ParseMilli(value.dump());
  if (value.is_string()) return ParseCpuMillis(value.get<std::string>());
  return Status::InvalidArgument("not a quantity");
}

std::string GpuAmountText(const json& value) {
  return value.is_string() ? Quote(value.get<std::string>()) : value.dump();
}

bool HasGpuResource(const json& pod) {
  bool found = false;
  ForEachContainer(pod, true, [&](const char*, size_t, const json& c) {
    found = found || GpuResource(c, "limits") != nullptr || GpuResource(c, "requests") != nullptr;
  });
  return found;
}

}  // namespace

Result<GpuShareRequest> ParseGpuShare(const nlohmann::json& pod) {
  Result<const std::string*> fraction = Annotation(pod, kGpuFractionAnnotation);
  if (!fraction.ok()) return fraction.status();
  Result<const std::string*> memory = Annotation(pod, kGpuMemoryAnnotation);
  if (!memory.ok()) return memory.status();
  Result<const std::string*> devices = Annotation(pod, kGpuDevicesAnnotation);
  if (!devices.ok()) return devices.status();
  if (*fraction == nullptr && *memory == nullptr) {
    if (*devices != nullptr) {
      return Status::InvalidArgument("annotation " + std::string(kGpuDevicesAnnotation) +
                                     " applies only with " + std::string(kGpuFractionAnnotation) +
                                     " or " + std::string(kGpuMemoryAnnotation) +
                                     "; for whole GPUs, request nvidia.com/gpu instead");
    }
    return Status::NotFound("the pod asks for no share of a GPU");
  }
  if (*fraction != nullptr && *memory != nullptr) {
    return Status::InvalidArgument("annotations " + std::string(kGpuFractionAnnotation) + " and " +
                                   std::string(kGpuMemoryAnnotation) +
                                   " are both set; a pod asks for a fraction of a GPU " +
                                   "or an amount of its memory, not both: remove one");
  }
  if (HasGpuResource(pod)) {
    return Status::InvalidArgument(
        "annotation " +
        std::string(*fraction != nullptr ? kGpuFractionAnnotation : kGpuMemoryAnnotation) +
        " cannot be combined with an nvidia.com/gpu request or limit in a container: a pod "
        "takes a share of a GPU or whole GPUs, not both");
  }
  GpuShareRequest out;
  if (*fraction != nullptr) {
    Result<int64_t> milli = ParseFraction(**fraction);
    if (!milli.ok()) return milli.status();
    out.fraction_milli = *milli;
  } else {
    Result<int64_t> mib = ParseShareMemory(**memory);
    if (!mib.ok()) return mib.status();
    out.memory_mib = *mib;
  }
  if (*devices != nullptr) {
    Result<int64_t> n = ParseShareDevices(**devices);
    if (!n.ok()) return n.status();
    out.devices = *n;
  }
  return out;
}

Status CheckWholeGpuRequests(const nlohmann::json& pod) {
  Status status;
  ForEachContainer(pod, true, [&](const char* list, size_t i, const json& c) {
    if (!status.ok()) return;
    const json* limit = GpuResource(c, "limits");
    const json* request = GpuResource(c, "requests");
    const std::string where = "container " + ContainerName(c, list, i);
    for (auto [kind, value] : {std::pair{"limits", limit}, std::pair{"requests", request}}) {
      if (value == nullptr) continue;
      Result<int64_t> milli = GpuAmountMilli(*value);
      if (!milli.ok() || *milli < 0 || *milli % 1000 != 0) {
        status = Status::InvalidArgument(
            where + ": resources." + kind + "[nvidia.com/gpu] is " + GpuAmountText(*value) +
            "; expected a whole number of GPUs (for a share of one, leave nvidia.com/gpu out and "
            "set the annotation sluice.dev/gpu-fraction or sluice.dev/gpu-memory)");
        return;
      }
    }
    if (limit != nullptr && request != nullptr &&
        *GpuAmountMilli(*limit) != *GpuAmountMilli(*request)) {
      status = Status::InvalidArgument(where + ": resources.requests[nvidia.com/gpu] is " +
                                       GpuAmountText(*request) + " but limits is " +
                                       GpuAmountText(*limit) +
                                       "; GPUs cannot be overcommitted: make them equal");
    }
  });
  return status;
}

std::string RandomConfigMapName() {
  std::array<unsigned char, 5> bytes{};
  SLUICE_CHECK(RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) == 1);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name = "sluice-gpu-";
  for (unsigned char b : bytes) {
    name += kHex[b >> 4];
    name += kHex[b & 0xf];
  }
  return name;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace sluice::k8s
