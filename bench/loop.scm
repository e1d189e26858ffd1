;; loop: tail-recursive named let summing 1..10^8 -- proper tail calls.
(display (let loop ((i 1) (acc 0))
           (if (> i 100000000) acc (loop (+ i 1) (+ acc i)))))
(newline)
