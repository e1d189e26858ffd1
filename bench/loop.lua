-- loop: tail-recursive local function summing 1..10^8 -- proper tail calls.
local function loop(i, acc)
  if i > 100000000 then return acc end
  return loop(i + 1, acc + i)
end
print(loop(1, 0))
