/* vm/avmb.h — the .avmb bytecode file format, shared by the writer
 * (compiler/writer.c) and the loader (vm/loader.c).
 *
 *   offset  size  field
 *   0       8     magic "\x89AVM\r\n\x1a\n" (PNG's trick: catches text-mode
 *                 and truncation damage)
 *   8       2     format major (a loader refuses any other)
 *   10      2     format minor (additions a loader may ignore)
 *   12      4     flags (bit 0: unsafe)
 *   16      4     CRC-32 of every byte from offset 24 to the end
 *   20      4     section count N
 *   24      12*N  section table: fourcc tag, offset, length
 *   ...           sections
 *
 * All integers are little-endian, written byte by byte.  Unknown sections
 * are skipped.  Strings are u32 length + bytes.  Section contents are
 * documented in docs/bytecode.md. */
#ifndef AVM_AVMB_H
#define AVM_AVMB_H
#include <stddef.h>
#include <stdint.h>

#define AVMB_MAGIC "\x89" "AVM\r\n\x1a\n"
#define AVMB_MAGIC_LEN 8
#define AVMB_VERSION_MAJOR 2
#define AVMB_VERSION_MINOR 2
#define AVMB_HEADER_LEN 24
#define AVMB_FLAG_UNSAFE 1u
/* Bytes per instruction in FUNC: the instruction, then its line-table
 * entry (the source span: line, column, end line, end column). */
#define AVMB_INSTR_SIZE 8
#define AVMB_SPAN_SIZE 16

/* SECTION(name, fourcc, required) */
#define AVMB_SECTIONS(X)          \
  X(SRCN, "SRCN", 1)              \
  X(SYMS, "SYMS", 1)              \
  X(FUNC, "FUNC", 1)              \
  X(DECL, "DECL", 1)

/* Constant tags inside FUNC. */
#define AVMB_CONSTS(X) \
  X(NIL, 0) X(FALSE, 1) X(TRUE, 2) X(INT, 3) X(STR, 4) X(SYM, 5) \
  X(LIST, 6) X(PRIM, 7) X(UNSPEC, 8) X(NOTHING, 9) X(JUST, 10)

enum {
#define X(name, n) KC_##name = n,
  AVMB_CONSTS(X)
#undef X
};

static inline uint32_t avmb_fourcc(const char *s) {
  return (uint32_t)(unsigned char)s[0] | (uint32_t)(unsigned char)s[1] << 8 |
         (uint32_t)(unsigned char)s[2] << 16 | (uint32_t)(unsigned char)s[3] << 24;
}

/* Limits the loader enforces on untrusted input. */
#define AVMB_MAX_DATUM_DEPTH 10000

#endif
