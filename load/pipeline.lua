-- wrk: each write sends DEPTH pipelined GETs of the URL's path (wrk ... -s load/pipeline.lua URL -- DEPTH);
-- wrk counts each answer as one request and sends the next batch once all DEPTH are back.
init = function(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format(nil, nil)
  end
  req = table.concat(r)
end

request = function()
  return req
end
