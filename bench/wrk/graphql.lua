-- wrk script for Offerdesk's scenarios (bench/run.py sets the environment):
--   BENCH_BODY     the JSON POST body, with __1__, __2__ where a line's values go
--   BENCH_IDS      a file of lines of tab-separated values (optional)
--   BENCH_MODE     "random": any line per request; "sequence": each line once, in order,
--                  spread over the threads (M1: every request a new (user, event) pair)
--   BENCH_THREADS  wrk's -t, for "sequence"
--   BENCH_TOKEN    the bearer token
--   BENCH_PATH     /graphql, or the floor route with the same body
-- done() prints one line "BENCH_JSON {...}" with the figures bench/run.py reads.

local template = os.getenv("BENCH_BODY")
local ids_file = os.getenv("BENCH_IDS")
local mode = os.getenv("BENCH_MODE") or "random"
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local token = os.getenv("BENCH_TOKEN") or ""
local path = os.getenv("BENCH_PATH") or "/graphql"

-- Main state: remember the threads to add up their counters in done().
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

-- Per-thread state (each thread runs this file in its own Lua state).
local rows = {}
local position = 0
local headers = {}
bad_status = 0
graphql_errors = 0
wrapped = 0

function init(args)
  if ids_file and ids_file ~= "" then
    for line in io.lines(ids_file) do
      local fields = {}
      for value in line:gmatch("[^\t]+") do
        table.insert(fields, value)
      end
      table.insert(rows, fields)
    end
  end
  math.randomseed(20261124 + tid)
  position = tid
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer " .. token
end

local function fill(row)
  local body = template:gsub("__1__", row[1])
  if row[2] then
    body = body:gsub("__2__", row[2])
  end
  return body
end

function request()
  local body = template
  if #rows > 0 then
    local row
    if mode == "sequence" then
      if position >= #rows then
        wrapped = wrapped + 1
      end
      row = rows[(position % #rows) + 1]
      position = position + nthreads
    else
      row = rows[math.random(#rows)]
    end
    body = fill(row)
  end
  return wrk.format("POST", path, headers, body)
end

function response(status, _, body)
  if status ~= 200 then
    bad_status = bad_status + 1
  elseif body:find('"errors"', 1, true) then
    graphql_errors = graphql_errors + 1
  end
end

function done(summary, latency, _)
  local bad, gql, wrap = 0, 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("bad_status")
    gql = gql + thread:get("graphql_errors")
    wrap = wrap + thread:get("wrapped")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,'
      .. '"p99_us":%d,"max_us":%d,"mean_us":%.1f,"connect_errors":%d,"read_errors":%d,'
      .. '"write_errors":%d,"timeouts":%d,"status_errors":%d,"bad_status":%d,'
      .. '"graphql_errors":%d,"wrapped":%d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, latency.mean, e.connect,
    e.read, e.write, e.timeout, e.status, bad, gql, wrap))
end
