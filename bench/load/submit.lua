-- wrk script: each request submits a new workload (a unique name per
-- thread and request) to project "load" with the token given after "--".
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  token = args[1]
  counter = 0
  failures = 0
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"name":"load-%d-%d","gpu":%s,"command":["true"]}', id, counter, gpu or "0.125")
  return wrk.format("POST", "/api/v1/projects/load/workloads",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status ~= 201 then
    failures = failures + 1
    if failures <= 3 then print("unexpected status " .. status .. ": " .. body) end
  end
end

function done(summary, latency, requests)
  io.write(string.format("requests: %d in %.1f s = %.0f/s; errors: %d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
  io.write(string.format("latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
