;; closures: 10^7 closure creations, each capturing the loop variable i,
;; passed to a top-level procedure that calls it once.
(define (call-with f x) (f x))
(display (let loop ((i 1) (acc 0))
           (if (> i 10000000)
               acc
               (loop (+ i 1) (+ acc (call-with (lambda (x) (+ x i)) i))))))
(newline)
