/* util/buf.c — growth, flushing and number formatting of Buf. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include "util/buf.h"

void buf_reserve(Buf *b, size_t extra) {
  if (b->cap - b->n >= extra) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->n < extra) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) abort();
  b->p = p;
  b->cap = cap;
}

void buf_free(Buf *b) {
  free(b->p);
  *b = (Buf){ 0 };
}

bool buf_flush(Buf *b, FILE *out) {
  bool ok = b->n == 0 || fwrite(b->p, 1, b->n, out) == b->n;
  b->n = 0;
  return ok;
}

/* Digits are produced two at a time from a table: the trace prints a
 * timestamp and an object id on every line. */
static const char digit_pairs[201] =
  "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
  "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
  "8081828384858687888990919293949596979899";

/* The number of digits of [v]: log10 from the bit length (1233/4096 is
 * just above log10(2)), corrected by one table look-up. */
static unsigned decimal_digits(uint32_t v) {
  static const uint32_t pow10[] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000 };
  unsigned t = ((32 - (unsigned)__builtin_clz(v | 1)) * 1233) >> 12;
  return t + 1 - ((v | 1) < pow10[t]);
}

/* Writes the last [len] digits of [v] (zero-padded) so that they end at [end]. */
static void put_digits(char *end, uint32_t v, unsigned len) {
  char *p = end;
  for (; len >= 2; len -= 2) {
    unsigned d = (v % 100) * 2;
    v /= 100;
    *--p = digit_pairs[d + 1];
    *--p = digit_pairs[d];
  }
  if (len) *--p = (char)('0' + v);
}

/* Timestamps and ids are mostly below 2^32: those take 32-bit divisions,
 * and all digits are written in place, from the last one back. */
void buf_u64(Buf *b, uint64_t v) {
  if (b->cap - b->n < 20) buf_reserve(b, 20);
  char *start = b->p + b->n;
  if (v <= UINT32_MAX) {
    unsigned len = decimal_digits((uint32_t)v);
    put_digits(start + len, (uint32_t)v, len);
    b->n += len;
    return;
  }
  /* Split into a head and 8-digit groups; the groups keep their zeros. */
  uint32_t groups[3];
  unsigned ng = 0;
  while (v > UINT32_MAX) {
    groups[ng++] = (uint32_t)(v % 100000000);
    v /= 100000000;
  }
  unsigned len = decimal_digits((uint32_t)v);
  put_digits(start + len, (uint32_t)v, len);
  char *p = start + len;
  while (ng) {
    put_digits(p + 8, groups[--ng], 8);
    p += 8;
  }
  b->n += (size_t)(p - start);
}

void buf_i64(Buf *b, int64_t v) {
  if (v < 0) {
    buf_putc(b, '-');
    buf_u64(b, (uint64_t)0 - (uint64_t)v);
  } else {
    buf_u64(b, (uint64_t)v);
  }
}

void buf_printf(Buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[128];
  int len = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (len < 0) return;
  if ((size_t)len < sizeof small) {
    buf_put(b, small, (size_t)len);
    return;
  }
  buf_reserve(b, (size_t)len + 1);
  va_start(ap, fmt);
  vsnprintf(b->p + b->n, (size_t)len + 1, fmt, ap);
  va_end(ap);
  b->n += (size_t)len;
}

void buf_json_string(Buf *b, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  buf_putc(b, '"');
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
      case '"': buf_put(b, "\\\"", 2); break;
      case '\\': buf_put(b, "\\\\", 2); break;
      case '\n': buf_put(b, "\\n", 2); break;
      case '\t': buf_put(b, "\\t", 2); break;
      case '\r': buf_put(b, "\\r", 2); break;
      case '\b': buf_put(b, "\\b", 2); break;
      case '\f': buf_put(b, "\\f", 2); break;
      default:
        if (c < 0x20) {
          char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
          buf_put(b, u, 6);
        } else {
          buf_putc(b, (char)c);
        }
    }
  }
  buf_putc(b, '"');
}
