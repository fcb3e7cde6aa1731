-- getPhoneNumber with a new mobile on every request: every call signs a new envelope.
local threads = 0
function setup(thread) thread:set("id", threads); threads = threads + 1 end
function init(args) counter = 0 end
function request()
  counter = counter + 1
  local body = string.format('{"mobile":"1%d%09d"}', id, counter)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
