-- wrk script for benchmarks.shortlist_p99: POST /v1/options/{id}/shortlist with a JSON body,
-- each request for the next option of $SHORTLIST_REQUESTS (lines "path<TAB>api key"), with the
-- API key of that option's service point. Each wrk thread starts at its own place in the list.
local requests = {}
local at = 0
local body = '{"k": ' .. (os.getenv("SHORTLIST_K") or "10") .. '}'
local threads = 0

function setup(thread)
  thread:set("offset", threads * 997)
  threads = threads + 1
end

function init(args)
  for line in io.lines(os.getenv("SHORTLIST_REQUESTS")) do
    local path, key = line:match("^(%S+)\t(%S+)$")
    requests[#requests + 1] = {path = path, key = key}
  end
  at = offset or 0
end

function request()
  at = at + 1
  local r = requests[(at % #requests) + 1]
  return wrk.format("POST", r.path, {["X-API-Key"] = r.key,
                                     ["Content-Type"] = "application/json"}, body)
end
