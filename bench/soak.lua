-- wrk script of bench/soak.sh (`make soak`): the compare phase or the OTP phase, with the shipped
-- per-caller rate limit on. Each wrk thread has a role and its own API key(s):
--
--   SOAK_PHASE=compare: POST /v1/faces/compare, a multipart body of two real face photos
--     (SOAK_REFERENCE, SOAK_PROBE), built once.
--       thread 1 "compare-limited": one API key, as fast as its connections go: the token bucket
--         (20/s, burst 40 per key) admits about 20 compares/s and answers the rest 429;
--       threads 2.. "compare-spread": round-robin over the pool keys (20/s each), so they are
--         limited only above 20 x pool size, i.e. they run at what inference can do.
--   SOAK_PHASE=otp (wrk -t3): POST /v1/verifications/{id}/otp/verify with wrong codes spread over
--     the prepared verifications, by bench/load_otp.lua (loaded below, LOAD_BUDGET=0, its
--     verifications split over threads 1 and 2 with LOAD_THREADS=2), and token introspection:
--       thread 1 "otp-limited": one API key (as above: about 20 real checks/s, the rest 429);
--       thread 2 "otp-spread": round-robin over the first half of the pool keys;
--       thread 3 "introspect": POST /v1/tokens/introspect of one live token, second half of the pool.
--
--   SOAK_KEYS_FILE: API keys, one a line: line 1 is the limited key, the others the pool.
--   LOAD_RESULT: the JSON written by load_common.lua's done(); the per-role counts are in its
--     `extra` as "<role> <status>" (e.g. "otp-spread 423"), plus:
--       "<role> <status> no-retry-after": a 429 or 503 without a Retry-After header;
--       "compare-* match" / "compare-* no-match": the decision of a 200 (the pair is one person);
--       "introspect active" / "introspect inactive": the token must stay active;
--       "otp-* 422 <reason>": wrong, locked (this code spent), expired.
-- bench/soak_report.py decides which statuses are expected.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local phase = os.getenv("SOAK_PHASE") or ""
if phase ~= "compare" and phase ~= "otp" then
    error("soak.lua: SOAK_PHASE must be compare or otp")
end

-- In the OTP phase, bench/load_otp.lua defines init/request/response/setup/done; keep its
-- functions and wrap them. Its module code also reads LOAD_KEY_FILE into wrk.headers.
local otp = {}
if phase == "otp" then
    dofile(dir .. "load_otp.lua")
    otp.init, otp.request, otp.response = init, request, response
end
-- A second instance of the shared module: its count/extra write the same per-thread globals
-- (statuses, extras) that load_otp's instance and done() use; its setup/done are used in the
-- compare phase only.
local common = dofile(dir .. "load_common.lua")
if phase == "compare" then
    common.authorize()
    setup = common.setup
    done = common.done
end

local function read_binary(variable)
    local path = os.getenv(variable)
    if not path or path == "" then
        error(variable .. " is not set")
    end
    local file = assert(io.open(path, "rb"))
    local data = file:read("*a")
    file:close()
    return data, path:match("([^/]+)$")
end

local keys = {}
for line in common.read_file("SOAK_KEYS_FILE"):gmatch("[^\n]+") do
    keys[#keys + 1] = line:gsub("%s+$", "")
end
if #keys < 3 then
    error("soak.lua: $SOAK_KEYS_FILE needs the limited key and at least two pool keys")
end

local role = nil
local my_keys = {} -- this thread's keys
local prebuilt = {} -- compare: one request per key
local key_cursor = 0
local token_body = nil

local function role_of(index)
    if phase == "compare" then
        return index == 1 and "compare-limited" or "compare-spread"
    end
    return ({ "otp-limited", "otp-spread", "introspect" })[index] or "introspect"
end

function init(args)
    local index = thread_index or 1
    role = role_of(index)
    if role:match("limited$") then
        my_keys = { keys[1] }
    else
        local pool = {}
        for i = 2, #keys do
            pool[#pool + 1] = keys[i]
        end
        local half = math.floor(#pool / 2)
        local first, last = 1, #pool
        if role == "otp-spread" then
            last = half
        elseif role == "introspect" then
            first = half + 1
        end
        for i = first, last do
            my_keys[#my_keys + 1] = pool[i]
        end
    end
    wrk.headers["Authorization"] = "Bearer " .. my_keys[1]
    if phase == "compare" then
        local boundary = "simgate-soak-boundary-7d1f0c"
        local parts = {}
        for _, field in ipairs({ { "reference", "SOAK_REFERENCE" }, { "probe", "SOAK_PROBE" } }) do
            local data, name = read_binary(field[2])
            parts[#parts + 1] = "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"" .. field[1] ..
                "\"; filename=\"" .. name .. "\"\r\nContent-Type: image/jpeg\r\n\r\n" .. data .. "\r\n"
        end
        parts[#parts + 1] = "--" .. boundary .. "--\r\n"
        local body = table.concat(parts)
        for i, key in ipairs(my_keys) do
            prebuilt[i] = wrk.format("POST", "/v1/faces/compare", {
                ["Authorization"] = "Bearer " .. key,
                ["Content-Type"] = "multipart/form-data; boundary=" .. boundary,
            }, body)
        end
    elseif role == "introspect" then
        token_body = '{"token":"' .. common.read_file("SOAK_TOKEN_FILE"):gsub("%s+", "") .. '"}'
    else
        otp.init(args)
    end
end

local function next_key()
    key_cursor = key_cursor % #my_keys + 1
    return key_cursor
end

function request()
    local k = next_key()
    if phase == "compare" then
        return prebuilt[k]
    end
    wrk.headers["Authorization"] = "Bearer " .. my_keys[k]
    if role == "introspect" then
        return wrk.format("POST", "/v1/tokens/introspect", nil, token_body)
    end
    return otp.request()
end

function response(status, headers, body)
    local name = role .. " " .. status
    common.extra(name)
    if status == 429 or status == 503 then
        if not (headers["Retry-After"] or headers["retry-after"]) then
            common.extra(name .. " no-retry-after")
        end
    end
    if phase == "compare" then
        common.count(status)
        if status == 200 then
            common.extra(role .. (body:find('"match":true', 1, true) and " match" or " no-match"))
        end
    elseif role == "introspect" then
        common.count(status)
        if status == 200 then
            common.extra(role .. (body:find('"active":true', 1, true) and " active" or " inactive"))
        end
    else
        otp.response(status, headers, body) -- counts the status and 422_<reason>
        if status == 422 then
            local reason = body:match('"reason"%s*:%s*"([%w_]+)"')
            common.extra(name .. " " .. (reason or "unknown"))
        end
    end
end
