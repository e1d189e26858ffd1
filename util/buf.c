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

/* Digits are produced two at a time from a table: the trace prints
 * numbers on every line. */
static const char digit_pairs[201] =
  "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
  "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
  "8081828384858687888990919293949596979899";

/* Writes the digits of [v] backwards, ending just before [end]; returns
 * where they start. */
static char *digits_before(char *end, uint64_t v) {
  char *p = end;
  while (v >= 100) {
    uint64_t q = v / 100;
    unsigned d = (unsigned)(v - q * 100) * 2;
    v = q;
    p -= 2;
    memcpy(p, digit_pairs + d, 2);
  }
  if (v >= 10) {
    p -= 2;
    memcpy(p, digit_pairs + v * 2, 2);
  } else {
    *--p = (char)('0' + v);
  }
  return p;
}

/* Most numbers a trace prints are small (object ids, counters): one or
 * two digits are written directly; longer ones are spelled in a scratch
 * buffer and copied with one fixed-size move. */
char *buf_u64_at(char *w, uint64_t v) {
  if (v < 10) {
    *w = (char)('0' + v);
    return w + 1;
  }
  if (v < 100) {
    memcpy(w, digit_pairs + v * 2, 2);
    return w + 2;
  }
  char tmp[40];  /* the digits end at tmp + 20, so 20 bytes from their start can be read */
  char *start = digits_before(tmp + 20, v);
  memcpy(w, start, 20);
  return w + (tmp + 20 - start);
}

char *buf_i64_at(char *w, int64_t v) {
  if (v >= 0) return buf_u64_at(w, (uint64_t)v);
  *w = '-';
  return buf_u64_at(w + 1, (uint64_t)0 - (uint64_t)v);
}

void buf_u64(Buf *b, uint64_t v) {
  if (b->cap - b->n < BUF_NUMBER_ROOM) buf_reserve(b, BUF_NUMBER_ROOM);
  b->n = (size_t)(buf_u64_at(b->p + b->n, v) - b->p);
}

void buf_i64(Buf *b, int64_t v) {
  if (b->cap - b->n < BUF_NUMBER_ROOM) buf_reserve(b, BUF_NUMBER_ROOM);
  b->n = (size_t)(buf_i64_at(b->p + b->n, v) - b->p);
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
