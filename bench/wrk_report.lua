-- wrk script for the benches: checks the status of every response and prints one JSON line.
--
-- wrk's own "Non-2xx or 3xx responses" line only counts statuses above 399, so a redirect or a
-- 1xx would pass unseen. Defining response() makes wrk hand each response to this script, which
-- counts the 2xx and the others per thread; done() adds the threads up and prints, after the
-- marker "BENCH ", the figures the Python side reads (durations and latencies in microseconds).
-- An argument after `--` names the one status that counts as good instead (e.g. 304).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  expected = tonumber(args[1])
  ok = 0
  bad = 0
  bad_status = 0
end

function response(status, headers, body)
  if (expected and status == expected) or (not expected and status >= 200 and status < 300) then
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
