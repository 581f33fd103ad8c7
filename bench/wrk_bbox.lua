-- A random bounding box on every request, so that neither server answers the same query twice
-- (and no cache of any kind can help). Arguments after "--": a path template with four %f
-- (min x, min y, max x, max y), the territory's extent (4 numbers) and the box size in degrees
-- (width, height). Responses are counted by wrk_report.lua, loaded first.

dofile("bench/wrk_report.lua")

local report_setup = setup
local report_init = init
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
  report_setup(thread)
end

function init(args)
  report_init(args)
  template = args[1]
  xmin, ymin, xmax, ymax = tonumber(args[2]), tonumber(args[3]), tonumber(args[4]), tonumber(args[5])
  width, height = tonumber(args[6]), tonumber(args[7])
  math.randomseed(os.time() * 1000 + (seed or 0) * 7919)
end

function request()
  local x = xmin + math.random() * (xmax - xmin - width)
  local y = ymin + math.random() * (ymax - ymin - height)
  return wrk.format("GET", string.format(template, x, y, x + width, y + height))
end
