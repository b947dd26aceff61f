-- GET the paths in BENCH_PATHS (space-separated) in turn, with a bearer token.
local paths = {}
local counter = 0

function init(args)
  for path in string.gmatch(os.getenv("BENCH_PATHS"), "%S+") do table.insert(paths, path) end
  local token = os.getenv("BENCH_TOKEN")
  if token then wrk.headers["Authorization"] = "Bearer " .. token end
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT %f %f %f %d %d %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors, summary.requests,
    summary.errors.status, summary.errors.timeout))
end
