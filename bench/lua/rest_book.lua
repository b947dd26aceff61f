-- POST resting limit orders spread over every listed contract and both sides of the book:
-- buys below the start price, sells above, 25 to 274 price ticks away (inside the 10% band).
local counter = 0
local thread_id = 0
local threads = {}
-- symbol, start price, price tick, decimals of a price
local contracts = {
  {"IF2412.CFFEX", 3500.0, 0.2, 1},
  {"rb2501.SHFE", 3300.0, 1.0, 0},
  {"BTCUSDT.GLOBAL", 60000.0, 0.01, 2},
}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id
  wrk.method = "POST"
  wrk.path = "/api/v1/orders"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
end

function request()
  counter = counter + 1
  local contract = contracts[counter % #contracts + 1]
  local buy = math.floor(counter / #contracts) % 2 == 0
  local ticks = 25 + (counter * 7919) % 250
  local price = contract[2] + (buy and -ticks or ticks) * contract[3]
  local body = string.format(
    '{"symbol":"%s","side":"%s","order_type":"limit","quantity":"1","price":"%.' .. contract[4] .. 'f"}',
    contract[1], buy and "BUY" or "SELL", price)
  wrk.headers["Idempotency-Key"] = string.format("book-%s-%d-%d", os.getenv("BENCH_RUN"), thread_id, counter)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT %f %f %f %d %d %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors, summary.requests,
    summary.errors.status, summary.errors.timeout))
end
