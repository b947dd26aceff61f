-- POST /api/v1/orders with a bearer token and a unique Idempotency-Key per request.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id
  wrk.method = "POST"
  wrk.path = os.getenv("BENCH_PATH") or "/api/v1/orders"
  wrk.body = os.getenv("BENCH_BODY")
  wrk.headers["Content-Type"] = "application/json"
  local token = os.getenv("BENCH_TOKEN")
  if token then wrk.headers["Authorization"] = "Bearer " .. token end
end

function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = string.format("bench-%s-%d-%d", os.getenv("BENCH_RUN"), thread_id, counter)
  return wrk.format()
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT %f %f %f %d %d %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors, summary.requests,
    summary.errors.status, summary.errors.timeout))
  -- The latency distribution (ms at each 0.1 %), so runs in slices merge into one.
  local quantiles = {}
  for i = 1, 999 do quantiles[i] = string.format("%.3f", latency:percentile(i / 10) / 1000) end
  io.write("LATENCIES " .. table.concat(quantiles, " ") .. "\n")
end
