-- wrk script for every `make bench` scenario: replay a request list written by bench/run.py.
--
-- Each line of $BENCH_REQUESTS is METHOD \t PATH \t HEADERS \t BODY, with HEADERS as
-- "Name: value" pairs joined by "|". Thread t of $BENCH_THREADS takes lines t, t+T, t+2T, ... so
-- no two connections ever send the same line: each book-spread request books its own
-- (user, slot) pair. A thread that runs out starts its slice again (counted as "wrapped").
-- On exit the totals, latency percentiles and the count of every HTTP status go to
-- $BENCH_RESULT as JSON, because wrk itself only counts "non-2xx".

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("thread_id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

function init(args)
   local nthreads = tonumber(os.getenv("BENCH_THREADS"))
   local lines = {}
   for line in io.lines(os.getenv("BENCH_REQUESTS")) do
      lines[#lines + 1] = line
   end
   if #lines < nthreads then
      nthreads = 1 -- fewer lines than threads (analytics has one): every thread sends them all
      thread_id = 0
   end
   prepared = {}
   for index, line in ipairs(lines) do
      if (index - 1) % nthreads == thread_id then
         local method, path, header_text, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
         local headers = {}
         for name, value in header_text:gmatch("([^|:]+): ([^|]*)") do
            headers[name] = value
         end
         if body == "" then
            body = nil
         end
         prepared[#prepared + 1] = wrk.format(method, path, headers, body)
      end
   end
   position = 0
   wrapped = 0
   statuses = {}
end

function request()
   position = position + 1
   if position > #prepared then
      position = 1
      wrapped = wrapped + 1
   end
   return prepared[position]
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local status_counts = {}
   local wraps = 0
   for _, thread in ipairs(threads) do
      for status, count in pairs(thread:get("statuses")) do
         status_counts[status] = (status_counts[status] or 0) + count
      end
      wraps = wraps + thread:get("wrapped")
   end
   local parts = {}
   for status, count in pairs(status_counts) do
      parts[#parts + 1] = string.format('"%d": %d', status, count)
   end
   local errors = summary.errors
   local out = assert(io.open(os.getenv("BENCH_RESULT"), "w"))
   out:write(string.format(
      '{"requests": %d, "duration_us": %d, "bytes": %d, "wrapped": %d, ' ..
      '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}, ' ..
      '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
      '"statuses": {%s}}\n',
      summary.requests, summary.duration, summary.bytes, wraps,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      latency.mean, errors.connect, errors.read, errors.write, errors.timeout,
      table.concat(parts, ", ")))
   out:close()
end
