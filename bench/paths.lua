-- wrk script: cycle through the request paths listed, one per line, in the
-- file named by BENCH_PATHS_FILE. Headers given with -H (the api key) are kept.
-- Each wrk thread starts at its own offset so threads do not move in step.

local paths = {}
local counter = 0
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("offset", thread_count * 7919)
end

function init(args)
  local name = os.getenv("BENCH_PATHS_FILE")
  local file = assert(io.open(name, "r"), "cannot open BENCH_PATHS_FILE " .. tostring(name))
  for line in file:lines() do
    if #line > 0 then
      paths[#paths + 1] = line
    end
  end
  file:close()
  assert(#paths > 0, "no paths in " .. name)
  counter = (offset or 0) % #paths
end

function request()
  counter = counter % #paths + 1
  return wrk.format(nil, paths[counter])
end
