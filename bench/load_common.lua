-- Shared by bench/load_introspect.lua and bench/load_otp.lua (wrk 4.1, LuaJIT): counts the
-- status of every response per wrk thread and, when wrk is done, writes one JSON object to the
-- file named by $LOAD_RESULT:
--
--   requests, duration_s, requests_per_s (wrk's own numbers: responses / wall time of the run),
--   latency_ms {mean, max, p50, p90, p99, p99_9} (wrk's latency histogram, every response),
--   statuses {"200": n, "422": n, ...}, socket_errors {connect, read, write, timeout},
--   and whatever the endpoint script adds through common.extra(name) (summed over threads).
--
-- wrk runs one Lua state per thread plus one for setup()/done(); per-thread counters are globals
-- of the thread states, read back in done() with thread:get().

local common = {}

local threads = {}

-- Per-thread counters (globals, so thread:get can read them).
statuses = {}
extras = {}

function common.setup(thread)
    threads[#threads + 1] = thread
    thread:set("thread_index", #threads)
end

function common.count(status)
    statuses[status] = (statuses[status] or 0) + 1
end

function common.extra(name, n)
    extras[name] = (extras[name] or 0) + (n or 1)
end

local function json_counts(counts)
    local keys = {}
    for key in pairs(counts) do
        keys[#keys + 1] = key
    end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local parts = {}
    for _, key in ipairs(keys) do
        parts[#parts + 1] = string.format('"%s": %d', tostring(key), counts[key])
    end
    return "{" .. table.concat(parts, ", ") .. "}"
end

local function sum_into(total, counts)
    for key, n in pairs(counts or {}) do
        total[key] = (total[key] or 0) + n
    end
end

function common.done(summary, latency, requests)
    local path = os.getenv("LOAD_RESULT")
    if not path or path == "" then
        io.stderr:write("load_common.lua: LOAD_RESULT is not set; no JSON written\n")
        return
    end
    local all_statuses, all_extras = {}, {}
    for _, thread in ipairs(threads) do
        sum_into(all_statuses, thread:get("statuses"))
        sum_into(all_extras, thread:get("extras"))
    end
    local ms = function(us) return us / 1000 end
    local duration_s = summary.duration / 1e6
    local errors = summary.errors
    local file = assert(io.open(path, "w"))
    file:write(string.format(
        '{"requests": %d, "duration_s": %.3f, "requests_per_s": %.1f, ' ..
        '"latency_ms": {"mean": %.3f, "max": %.3f, "p50": %.3f, "p90": %.3f, "p99": %.3f, "p99_9": %.3f}, ' ..
        '"statuses": %s, "extra": %s, ' ..
        '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, "threads": %d}\n',
        summary.requests, duration_s, summary.requests / duration_s,
        ms(latency.mean), ms(latency.max), ms(latency:percentile(50)), ms(latency:percentile(90)),
        ms(latency:percentile(99)), ms(latency:percentile(99.9)),
        json_counts(all_statuses), json_counts(all_extras),
        errors.connect, errors.read, errors.write, errors.timeout, #threads))
    file:close()
end

-- Reads a whole file (for the token and the API key, which are kept out of wrk's command line).
function common.read_file(variable)
    local path = os.getenv(variable)
    if not path or path == "" then
        error(variable .. " is not set")
    end
    local file = assert(io.open(path, "r"))
    local text = file:read("*a")
    file:close()
    return text
end

function common.authorize()
    local key = common.read_file("LOAD_KEY_FILE"):gsub("%s+$", "")
    wrk.headers["Authorization"] = "Bearer " .. key
    wrk.headers["Content-Type"] = "application/json"
end

return common
