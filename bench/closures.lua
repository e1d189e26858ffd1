-- closures: 10^7 closure creations, each capturing the loop variable i,
-- passed to a top-level function that calls it once.
local function call_with(f, x) return f(x) end
local function loop(i, acc)
  if i > 10000000 then return acc end
  return loop(i + 1, acc + call_with(function(x) return x + i end, i))
end
print(loop(1, 0))
