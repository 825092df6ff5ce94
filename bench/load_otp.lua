-- wrk script: POST /v1/verifications/{id}/otp/verify with WRONG codes, spread over many prepared
-- verifications (each waiting for its SMS code). bench/load.sh explains why; in short, the
-- service's brute-force limits make every verification accept only so many refusals before the
-- subscriber is locked, so the script spreads the load and says how many refusals it sent.
--
--   LOAD_KEY_FILE=key LOAD_SESSIONS_FILE=sessions.txt LOAD_THREADS=2 LOAD_BUDGET=100 \
--   LOAD_DONE_DIR=dir LOAD_RESULT=out.json \
--     wrk -t2 -c16 -d60s --latency -s bench/load_otp.lua http://127.0.0.1:PORT
--
-- sessions.txt: one "verification-id real-code" per line. Verification i goes to wrk thread
-- (i - 1) % LOAD_THREADS + 1; each thread sends its requests round-robin over its verifications.
-- Every code sent is wrong: (real + k) mod 10^6 with k in 1..999999, so it never matches.
--
-- LOAD_BUDGET = n > 0: at most n requests per verification (100 = the shipped
--   otp.max_consecutive_failures, so every request is a full check that ends in a refusal and
--   the subscriber is locked by the last one). A thread that has sent its whole budget stops
--   (wrk.thread:stop(); the one request it must still hand wrk is counted as `overflow` and its
--   response is never read); the last thread to finish interrupts wrk with SIGINT (LuaJIT FFI),
--   which ends the run then, instead of at -d. Without FFI the run lasts -d.
-- LOAD_BUDGET = 0: no budget; requests go round-robin for the whole -d (the locked steady state
--   once every subscriber is locked).

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "load_common.lua")

common.authorize()

local budget = tonumber(os.getenv("LOAD_BUDGET") or "0") or 0
local thread_count = tonumber(os.getenv("LOAD_THREADS") or "1") or 1

setup = common.setup
done = common.done

local mine = {} -- { id =, code =, sent = }
local cursor = 0
local finished = false
local last_request = nil
-- wrk calls request() once on thread 1 before the run to check the request's syntax; that call
-- must not count against a verification's budget.
local syntax_check_pending = true

function init(args)
    local index = (thread_index or 1) - 1
    local n = 0
    for line in common.read_file("LOAD_SESSIONS_FILE"):gmatch("[^\n]+") do
        local id, code = line:match("^(%S+)%s+(%d+)")
        if id then
            if n % thread_count == index then
                mine[#mine + 1] = { id = id, code = tonumber(code), sent = 0 }
            end
            n = n + 1
        end
    end
    if #mine == 0 then
        error("load_otp.lua: no verifications for thread " .. (index + 1) .. " in $LOAD_SESSIONS_FILE")
    end
end

local function signal_if_last()
    local done_dir = os.getenv("LOAD_DONE_DIR")
    if not done_dir or done_dir == "" then
        return
    end
    local marker = assert(io.open(string.format("%s/thread-%d", done_dir, thread_index or 1), "w"))
    marker:close()
    for i = 1, thread_count do
        local other = io.open(string.format("%s/thread-%d", done_dir, i), "r")
        if not other then
            return
        end
        other:close()
    end
    local ok, ffi = pcall(require, "ffi")
    if ok then
        pcall(ffi.cdef, "int getpid(void); int kill(int pid, int sig);")
        ffi.C.kill(ffi.C.getpid(), 2) -- SIGINT: wrk stops all threads and reports
    end
end

local function next_session()
    for _ = 1, #mine do
        cursor = cursor % #mine + 1
        local session = mine[cursor]
        if budget == 0 or session.sent < budget then
            return session
        end
    end
    return nil
end

function request()
    if syntax_check_pending then
        syntax_check_pending = false
        if (thread_index or 1) == 1 then
            local first = mine[1]
            return wrk.format("POST", "/v1/verifications/" .. first.id .. "/otp/verify", nil,
                string.format('{"code":"%06d"}', (first.code + 1) % 1000000))
        end
    end
    local session = next_session()
    if not session then
        if not finished then
            finished = true
            wrk.thread:stop()
            signal_if_last()
        end
        common.extra("overflow")
        return last_request
    end
    session.sent = session.sent + 1
    local wrong = (session.code + (session.sent - 1) % 999999 + 1) % 1000000
    last_request = wrk.format("POST", "/v1/verifications/" .. session.id .. "/otp/verify", nil,
        string.format('{"code":"%06d"}', wrong))
    common.extra("sent")
    return last_request
end

function response(status, headers, body)
    common.count(status)
    if status == 422 then
        -- problem+json with a `reason`: wrong, locked (this code is spent), expired, replayed
        local reason = body:match('"reason"%s*:%s*"([%w_]+)"')
        common.extra("422_" .. (reason or "unknown"))
    end
end
