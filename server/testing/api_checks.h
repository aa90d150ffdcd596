// What the integration tests of a real server share: calling the API and
// expecting a status, reading an error reply's message, and polling until
// something holds. Header-only, for test programs (it uses GoogleTest).
#ifndef SLUICE_SERVER_TESTING_API_CHECKS_H_
#define SLUICE_SERVER_TESTING_API_CHECKS_H_

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "cli/api_client.h"

namespace sluice::testing {

// Calls and expects a status; returns the JSON body (null when it is not JSON).
inline nlohmann::json Expect(const ApiClient& c, int status, const std::string& method,
                             const std::string& target, const nlohmann::json& body = nullptr) {
  Result<HttpResult> r = c.Call(method, target, body.is_null() ? "" : body.dump());
  EXPECT_TRUE(r.ok()) << method << " " << target << ": " << r.status().message();
  if (!r.ok()) return nullptr;
  EXPECT_EQ(r->status, status) << method << " " << target << " -> " << r->body;
  return r->json;
}

// The same for a reply that is not JSON (a file, CSV); returns the body.
inline std::string ExpectText(const ApiClient& c, int status, const std::string& method,
                              const std::string& target) {
  Result<HttpResult> r = c.Call(method, target);
  EXPECT_TRUE(r.ok()) << method << " " << target << ": " << r.status().message();
  if (!r.ok()) return "";
  EXPECT_EQ(r->status, status) << method << " " << target << " -> " << r->body;
  return r->body;
}

inline std::string ErrorOf(const nlohmann::json& j) {
  return j.is_object() && j.contains("error") ? j["error"]["message"].get<std::string>() : "";
}

// Polls `f` until it holds or 60 s pass (it returns as soon as it holds;
// a loaded 2-core CI machine can take well over 10 s to get there).
template <class F>
bool Eventually(F f) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return f();
}

}  // namespace sluice::testing

#endif  // SLUICE_SERVER_TESTING_API_CHECKS_H_
