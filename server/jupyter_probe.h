// Asking a workspace's JupyterLab how active it is, for idle culling: its
// /api/status (last_activity: kernel, terminal and API activity) and its
// /api/kernels (how many are busy), both with the workspace's token and
// without counting as activity themselves. Blocking, with a timeout on
// every read and write; the server runs it on a thread of its own.
#ifndef SLUICE_SERVER_JUPYTER_PROBE_H_
#define SLUICE_SERVER_JUPYTER_PROBE_H_

#include <chrono>
#include <cstdint>
#include <optional>

#include "server/workspace_idle.h"

namespace sluice {

// nullopt when JupyterLab did not answer both (still starting, or hung).
std::optional<JupyterActivity> ProbeJupyter(const JupyterProbe& probe,
                                            std::chrono::milliseconds timeout);

// A TCP port on 127.0.0.1 that nothing listens on now (0 when none could
// be had). Another process may take it before its user binds it; JupyterLab
// is told not to move to another port, so such a clash fails visibly.
int32_t FreeLoopbackPort();

}  // namespace sluice

#endif  // SLUICE_SERVER_JUPYTER_PROBE_H_
