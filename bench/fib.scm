;; fib: doubly recursive fib(35) -- non-tail calls, integer arithmetic.
(define (fib n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))
(display (fib 35))
(newline)
