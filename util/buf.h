/* util/buf.h — a growable byte buffer: the one place text is assembled
 * before it goes to a stream (the printer, the trace views).  Appending is
 * inline and checks capacity once per call, so formatting a million trace
 * lines costs no stdio locking or vfprintf parsing. */
#ifndef AVM_BUF_H
#define AVM_BUF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct Buf {
  char *p;
  size_t n, cap;
} Buf;

/* Makes room for [extra] more bytes (aborts when memory is exhausted). */
void buf_reserve(Buf *b, size_t extra);
void buf_free(Buf *b);
/* Writes the contents to [out] and empties the buffer; false on a write error. */
bool buf_flush(Buf *b, FILE *out);
void buf_u64(Buf *b, uint64_t v);
void buf_i64(Buf *b, int64_t v);
/* The same at cursor [w], which must have BUF_NUMBER_ROOM bytes of room
 * (a few past the digits are scratch); both return the end of the digits. */
#define BUF_NUMBER_ROOM 21
char *buf_u64_at(char *w, uint64_t v);
char *buf_i64_at(char *w, int64_t v);
/* Appends [s] as a JSON string literal, escaped as serde_json escapes
 * (the reference's traces and wire messages): " \\ \b \f \n \r \t, other
 * control characters as \u00XX; everything else, UTF-8 and DEL included,
 * passes through. */
void buf_json_string(Buf *b, const char *s, size_t len);
void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void buf_put(Buf *b, const char *s, size_t len) {
  if (len == 0) return;  /* an empty buffer has no p to copy to */
  if (b->cap - b->n < len) buf_reserve(b, len);
  memcpy(b->p + b->n, s, len);
  b->n += len;
}

/* Appends [len] bytes of [s], a buffer that may be read for [room] bytes
 * (a constant, at least len): one fixed-size copy, inlined, where a
 * variable length would call memcpy.  The bytes past len are overwritten
 * by what comes next. */
static inline void buf_put_padded(Buf *b, const char *s, size_t len, size_t room) {
  if (b->cap - b->n < room) buf_reserve(b, room);
  memcpy(b->p + b->n, s, room);
  b->n += len;
}

static inline void buf_putc(Buf *b, char c) {
  if (b->n == b->cap) buf_reserve(b, 1);
  b->p[b->n++] = c;
}

static inline void buf_puts(Buf *b, const char *s) { buf_put(b, s, strlen(s)); }

/* A string literal: its length is a constant, so the copy is inlined. */
#define buf_lit(b, lit) buf_put((b), "" lit, sizeof(lit) - 1)

#endif
