-- wrk.lua - the request script of the benchmark's wrk scenarios (Debian's wrk 4):
--   wrk ... -s bench/wrk.lua URL                 GET URL (healthz, polling handshakes)
--   wrk ... -s bench/wrk.lua URL -- FILE         POST to URL, rotating over FILE's lines, each
--                                               "AUTHORIZATION<TAB>JSON body" (authorization may
--                                               be empty), as written by chat-load.mjs setup-*
-- At the end prints one JSON line (lines starting with "{" are ours): requests, duration_us,
-- errors (socket errors and timeouts), non2xx, lat_us percentiles.
local reqs = {}
local i = 0

function init(args)
    if args[1] then
        for line in io.lines(args[1]) do
            local auth, body = line:match("^([^\t]*)\t(.+)$")
            if body then
                local h = { ["Content-Type"] = "application/json" }
                if auth ~= "" then h["Authorization"] = auth end
                reqs[#reqs + 1] = wrk.format("POST", nil, h, body)
            end
        end
    end
    if #reqs == 0 then reqs[1] = wrk.format("GET") end
end

function request()
    i = i % #reqs + 1
    return reqs[i]
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        '{"requests":%d,"duration_us":%d,"bytes":%d,"errors":%d,"non2xx":%d,' ..
        '"lat_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}\n',
        summary.requests, summary.duration, summary.bytes,
        e.connect + e.read + e.write + e.timeout, e.status,
        latency:percentile(50), latency:percentile(90), latency:percentile(99),
        latency:percentile(99.9), latency.max, latency.mean))
end
