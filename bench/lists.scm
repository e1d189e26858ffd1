;; lists: 3 rounds of: cons up the list (1 .. 10^6), reverse it, sum it.
;; Measures pair allocation, GC and list traversal.
(define (build i acc) (if (< i 1) acc (build (- i 1) (cons i acc))))
(define (sum l acc) (if (null? l) acc (sum (cdr l) (+ acc (car l)))))
(display (let rounds ((k 0) (total 0))
           (if (> k 2)
               total
               (rounds (+ k 1) (+ total (sum (reverse (build 1000000 '())) 0))))))
(newline)
