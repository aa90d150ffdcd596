// JSON for the server's objects: what the API accepts and returns, and the
// documents kept in the store. Decoding is strict (unknown fields, wrong
// types and impossible values are InvalidArgument with one line per problem,
// see json_fields.h) and is the one path both API bodies and stored
// documents go through, so nothing the API refuses can come back from disk.
#ifndef SLUICE_SERVER_CODEC_H_
#define SLUICE_SERVER_CODEC_H_

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "server/objects.h"

namespace sluice {

using Json = nlohmann::ordered_json;
class JsonFields;

// A fixed-point amount as a JSON number: an integer when whole.
Json MilliNumber(int64_t milli);

// Serializes without ever throwing: bytes that are not UTF-8 (a percent-
// decoded path echoed in an error, a user name from the system) become
// U+FFFD instead of an exception.
std::string DumpJson(const Json& j);

// Parses request or document text; errors say where the JSON broke.
Result<nlohmann::json> ParseJsonText(std::string_view text, std::string_view what);

// A new workload: {"name": ..., spec fields...}.
struct Submission {
  std::string name;
  WorkloadSpec spec;
};
Result<Submission> DecodeSubmission(const nlohmann::json& body);
// A new workspace: {"name", "jupyter": true | "command": [...] with "port",
// the GPU, CPU and memory fields, "env"}; the spec comes out build-class
// and not preemptible, with `workspace` set and no command for JupyterLab
// (the control plane supplies it).
Result<Submission> DecodeWorkspaceRequest(const nlohmann::json& body);
Json EncodeSpec(const WorkloadSpec& spec);
// The fields of a workload's spec (all a submission takes but its name),
// and their decoding, for objects that embed one (a sweep's trial).
std::span<const std::string_view> WorkloadSpecFields();
void DecodeWorkloadSpecFields(JsonFields& f, WorkloadSpec* spec);

// Departments and projects: `create` requires the name; otherwise the body
// changes only the fields it gives (PATCH) and may not rename.
Status DecodeDepartment(const nlohmann::json& body, bool create, Department* d);
Status DecodeProject(const nlohmann::json& body, bool create, Project* p);
Json EncodeDepartment(const Department& d);
Json EncodeProject(const Project& p);
Json EncodeQueueSettings(const QueueSettings& s);

// A workload as the API shows it (with the last cycle's reason and queue
// position) or as it is stored (without them).
Json EncodeWorkload(const WorkloadRecord& w, bool for_api);
Result<WorkloadRecord> DecodeStoredWorkload(const std::string& doc);

Json EncodeToken(const Token& t, bool for_api);
Result<Token> DecodeStoredToken(const std::string& doc);
Result<Department> DecodeStoredDepartment(const std::string& doc);
Result<Project> DecodeStoredProject(const std::string& doc);

std::optional<Role> ParseRole(std::string_view s);
std::optional<Phase> ParsePhase(std::string_view s);

}  // namespace sluice

#endif  // SLUICE_SERVER_CODEC_H_
