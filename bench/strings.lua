-- strings: 10^4 rounds; each round starts from tostring(k) and appends
-- tostring(i) for i = 1..100, one .. at a time (10^6 appends in all),
-- and adds the resulting string's length to a total.
-- Measures number->string, string allocation and copying.
local function chunk(i, s)
  if i > 100 then return s end
  return chunk(i + 1, s .. tostring(i))
end
local function rounds(k, total)
  if k > 10000 then return total end
  return rounds(k + 1, total + #chunk(1, tostring(k)))
end
print(rounds(1, 0))
