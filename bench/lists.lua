-- lists: 3 rounds of: cons up the list (1 .. 10^6), reverse it, sum it.
-- Cons cells are {car, cdr} tables, nil is the empty list, and reverse is
-- written out (Lua has no built-in list reverse).
local function build(i, acc)
  if i < 1 then return acc end
  return build(i - 1, {i, acc})
end
local function rev(l, acc)
  if l == nil then return acc end
  return rev(l[2], {l[1], acc})
end
local function sum(l, acc)
  if l == nil then return acc end
  return sum(l[2], acc + l[1])
end
local function rounds(k, total)
  if k > 2 then return total end
  return rounds(k + 1, total + sum(rev(build(1000000, nil), nil), 0))
end
print(rounds(0, 0))
