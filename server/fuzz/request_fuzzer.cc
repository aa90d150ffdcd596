// libFuzzer target for everything that decodes what a client sends: JSON
// bodies (workload submissions, workspaces, projects, departments), stored documents,
// and request targets. Besides not crashing (under ASan and UBSan), it
// checks one property: a submission the API accepts, encoded back as the
// API shows it, decodes to the same spec.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/api_router.h"
#include "server/codec.h"

namespace sluice {
namespace {

void CheckRoundTrip(const Submission& sub) {
  Json shown = EncodeSpec(sub.spec);
  shown["name"] = sub.name;
  Result<nlohmann::json> again_json = ParseJsonText(shown.dump(), "round trip");
  if (!again_json.ok()) abort();
  Result<Submission> again = DecodeSubmission(*again_json);
  if (!again.ok() || EncodeSpec(again->spec) != EncodeSpec(sub.spec) || again->name != sub.name) {
    abort();
  }
}

}  // namespace
}  // namespace sluice

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice;  // NOLINT(google-build-using-namespace)
  const std::string text(reinterpret_cast<const char*>(data), size);
  ApiRequest req;
  if (ParseTarget(text, &req)) {
    // Decoded path segments end up in error messages; serializing them must not throw.
    for (const std::string& segment : req.segments) (void)DumpJson(Json{{"error", segment}});
  }
  Result<nlohmann::json> body = ParseJsonText(text, "the request body");
  if (!body.ok()) return 0;
  Result<Submission> sub = DecodeSubmission(*body);
  if (sub.ok()) CheckRoundTrip(*sub);
  (void)DecodeWorkspaceRequest(*body);
  Project p;
  (void)DecodeProject(*body, true, &p);
  Department d;
  (void)DecodeDepartment(*body, false, &d);
  (void)DecodeStoredWorkload(text);
  return 0;
}
