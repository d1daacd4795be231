-- wrk script: POST a new agreement per request. The body is the JSON in the
-- file named by BENCH_CREATE_FILE, with __REF__ replaced by a reference unique
-- to this run (BENCH_RUN_TOKEN), this thread and this request.

local template = nil
local counter = 0
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
end

function init(args)
  local name = os.getenv("BENCH_CREATE_FILE")
  local file = assert(io.open(name, "r"), "cannot open BENCH_CREATE_FILE " .. tostring(name))
  template = file:read("*a")
  file:close()
  -- A headers table given to wrk.format replaces the -H ones: add to those instead.
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local reference = os.getenv("BENCH_RUN_TOKEN") .. "-" .. thread_number .. "-" .. counter
  local body = string.gsub(template, "__REF__", reference)
  return wrk.format("POST", nil, nil, body)
end
