// Who is calling, and the secrets that say so.
//
// Over the Unix socket the caller is the peer process's uid (SO_PEERCRED);
// root and the user the server runs as are admins. Over HTTP the caller
// presents a bearer token; tokens are random, shown once at creation, and
// stored only as their SHA-256.
#ifndef SLUICE_SERVER_AUTH_H_
#define SLUICE_SERVER_AUTH_H_

#include <cstdint>
#include <string>

#include "common/status.h"

namespace sluice {

struct Caller {
  std::string user;
  int64_t uid = -1;  // -1 when unknown (token callers without a local account)
  bool admin = false;
  // A sweep trial's report token: the trial's workload id. Such a caller may
  // only report that trial's metrics (POST /api/v1/report).
  int64_t trial = -1;
};

// The name of local user `uid`, or "uid-N" when it has none.
std::string UserNameOf(int64_t uid);
// The uid of local user `name`, or -1.
int64_t UidOf(const std::string& name);

// A new token "slc_" + 40 random hex digits; its id is "tok-" + the first 8.
struct NewToken {
  std::string secret;
  std::string id;
  std::string hash;
};
Result<NewToken> GenerateToken();
std::string Sha256Hex(const std::string& text);
// Constant-time comparison of two hex digests.
bool DigestEqual(const std::string& a, const std::string& b);

}  // namespace sluice

#endif  // SLUICE_SERVER_AUTH_H_
