-- wrk script: POST /v1/tokens/introspect with one live activation token, over and over.
--
--   LOAD_KEY_FILE=key LOAD_TOKEN_FILE=token LOAD_RESULT=out.json \
--     wrk -t2 -c16 -d15s --latency -s bench/load_introspect.lua http://127.0.0.1:PORT
--
-- The request is static (built once per thread). Every response's status is counted, and a 200
-- is counted as `active` or `inactive` from its body: the token must stay active for the whole
-- run, so `inactive` > 0 means the numbers are not those of the full check (signature, times,
-- audience, tenant, revocation / redemption row).

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "load_common.lua")

common.authorize()
local token = common.read_file("LOAD_TOKEN_FILE"):gsub("%s+", "")
wrk.method = "POST"
wrk.path = "/v1/tokens/introspect"
wrk.body = '{"token":"' .. token .. '"}'

setup = common.setup
done = common.done

function response(status, headers, body)
    common.count(status)
    if status == 200 then
        if body:find('"active":true', 1, true) then
            common.extra("active")
        else
            common.extra("inactive")
        end
    end
end
