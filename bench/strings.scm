;; strings: 10^4 rounds; each round starts from (number->string k) and
;; appends (number->string i) for i = 1..100, one string-append at a time
;; (10^6 appends in all), and adds the resulting string's length to a total.
;; Measures number->string, string allocation and copying.
(define (chunk i s)
  (if (> i 100) s (chunk (+ i 1) (string-append s (number->string i)))))
(define (rounds k total)
  (if (> k 10000)
      total
      (rounds (+ k 1) (+ total (string-length (chunk 1 (number->string k)))))))
(display (rounds 1 0))
(newline)
