/* lang/syntax.c — Syntax nodes and the reader's entry points: builds the
 * nodes (GC-allocated) and drives the scanner (lang/lexer.l) and parser
 * (lang/parser.y) over a source text. */
#include "lang/syntax.h"
#include <gc.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "lang/parser.h"
#include "lang/lexer.h"

/* {===== Constructors =====} */

static Syntax *node(SyntaxKind kind, Loc loc) {
  Syntax *s = GC_MALLOC(sizeof *s);
  if (!s) abort();
  s->kind = kind;
  s->loc = loc;
  return s;
}

Syntax *sx_int(Loc loc, int64_t i) {
  Syntax *s = node(SX_INT, loc);
  s->u.i = i;
  return s;
}

Syntax *sx_bool(Loc loc, bool b) {
  Syntax *s = node(SX_BOOL, loc);
  s->u.b = b;
  return s;
}

Syntax *sx_sym(Loc loc, Symbol *sym) {
  Syntax *s = node(SX_SYM, loc);
  s->u.sym = sym;
  return s;
}

/* Copies the [len] bytes at [str] (which may contain NULs) and terminates
 * the copy with a NUL. */
Syntax *sx_str(Loc loc, const char *str, size_t len) {
  char *copy = GC_MALLOC_ATOMIC(len + 1);
  if (!copy) abort();
  if (len) memcpy(copy, str, len);
  copy[len] = '\0';
  Syntax *s = node(SX_STR, loc);
  s->u.str.s = copy;
  s->u.str.len = len;
  return s;
}

/* Copies [items] (so callers may pass an array on the stack); [tail] is
 * NULL for a proper list. */
Syntax *sx_list(Loc loc, Syntax **items, int n, Syntax *tail) {
  Syntax **copy = NULL;
  if (n > 0) {
    copy = GC_MALLOC((size_t)n * sizeof *copy);
    if (!copy) abort();
    memcpy(copy, items, (size_t)n * sizeof *copy);
  }
  Syntax *s = node(SX_LIST, loc);
  s->u.list.items = copy;
  s->u.list.n = n;
  s->u.list.tail = tail;
  return s;
}

Syntax *sx_list2(Loc loc, Syntax *a, Syntax *b) {
  Syntax *items[2] = {a, b};
  return sx_list(loc, items, 2, NULL);
}

Syntax *sx_list3(Loc loc, Syntax *a, Syntax *b, Syntax *c) {
  Syntax *items[3] = {a, b, c};
  return sx_list(loc, items, 3, NULL);
}

/* {===== Reading =====} */

/* Reads [text] as read_source() does; [*eof_errors] receives how many of
 * the errors only said that input ended too early. */
static bool read_text(Diag *d, const char *file, const char *text, size_t len, int first_line,
                      SyntaxList *out, int *eof_errors) {
  ReadState st;
  memset(&st, 0, sizeof st);
  st.d = d;
  st.file = file;
  st.line = first_line;
  st.col = 1;
  st.u8_lo = 0x80;
  st.u8_hi = 0xBF;
  int before = d->nerrors;
  out->items = NULL;
  out->n = 0;
  *eof_errors = 0;
  if (!text) text = "";
  if (len > INT_MAX - 2) {
    diag_error(d, (Loc){file, 0, 0, 0, 0}, "source too large to read");
    return false;
  }

  /* A "#!" first line is skipped but counted: scanning starts at its
   * newline, at the column after it. */
  size_t skip = 0;
  if (len >= 2 && text[0] == '#' && text[1] == '!') {
    while (skip < len && text[skip] != '\n') {
      if (((unsigned char)text[skip] & 0xC0) != 0x80) st.col++;
      skip++;
    }
  }

  yyscan_t scanner;
  if (lex_yylex_init_extra(&st, &scanner) != 0) abort();
  YY_BUFFER_STATE buf = lex_yy_scan_bytes(text + skip, (int)(len - skip), scanner);
  parse_yyparse(&st, scanner);
  lex_yy_delete_buffer(buf, scanner);
  lex_yylex_destroy(scanner);
  free(st.buf);

  if (st.pending) diag_error(d, st.pending_loc, "%s", st.pending_msg);
  if (st.top) {
    out->items = st.top->items;
    out->n = st.top->n;
  }
  *eof_errors = st.eof_errors;
  return d->nerrors == before;
}

bool read_source(Diag *d, const char *file, const char *text, size_t len, SyntaxList *out) {
  int eof_errors;
  return read_text(d, file, text, len, 1, out, &eof_errors);
}

bool read_source_from(Diag *d, const char *file, const char *text, size_t len, int first_line, SyntaxList *out) {
  int eof_errors;
  return read_text(d, file, text, len, first_line > 0 ? first_line : 1, out, &eof_errors);
}

/* Reads [text] with a Diag that counts errors but prints none
 * (max_errors 0), and says whether every error was of the kind "input ended
 * inside something". */
bool read_is_incomplete(const char *file, const char *text, size_t len) {
  Diag d;
  diag_init(&d, stderr);
  d.max_errors = 0;
  SyntaxList out;
  int eof_errors;
  if (read_text(&d, file, text, len, 1, &out, &eof_errors)) return false;
  return eof_errors > 0 && eof_errors == d.nerrors;
}
