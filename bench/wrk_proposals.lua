-- wrk script of bench/proposals.py: POSTs a distinct proposal per request (its own title, and
-- its own Idempotency-Key when the first argument after `--` is "key"), checks that every
-- answer is a 201, and prints the same "BENCH {...}" line as wrk_report.lua.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  with_key = args[1] == "key"
  ok = 0
  bad = 0
  bad_status = 0
end

function request()
  counter = counter + 1
  local name = string.format("%d-%d", id, counter)
  local headers = { ["Content-Type"] = "application/json" }
  if with_key then
    headers["Idempotency-Key"] = "bench-" .. os.time() .. "-" .. name
  end
  local body = string.format(
    '{"title": "Proposition de banc %s", "description": "Un banc sous les arbres de la place.",'
      .. ' "category": "4", "geometry": {"type": "Point", "coordinates": [2.8282, 50.4268]},'
      .. ' "address": "Place Jean Jaurès, Lens", "author_name": "Banc %s",'
      .. ' "contact_email": "bench-%s@example.org"}',
    name, name, name)
  return wrk.format("POST", "/v1/proposals", headers, body)
end

function response(status, headers, body)
  if status == 201 then
    ok = ok + 1
  else
    bad = bad + 1
    bad_status = status
  end
end

function done(summary, latency, requests)
  local ok_total, bad_total, last_bad = 0, 0, 0
  for _, thread in ipairs(threads) do
    ok_total = ok_total + thread:get("ok")
    bad_total = bad_total + thread:get("bad")
    if thread:get("bad_status") ~= 0 then
      last_bad = thread:get("bad_status")
    end
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "bytes": %d, "ok": %d, "bad": %d, '
      .. '"bad_status": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, '
      .. '"status_errors": %d, "timeouts": %d, "latency_p50_us": %d, "latency_p99_us": %d, '
      .. '"latency_max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, ok_total, bad_total, last_bad,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max
  ))
end
