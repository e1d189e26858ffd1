/* lang/syntax.h — the reader's output: S-expressions in which every node
 * carries its source span.  Quote marks are already expanded: 'x reads as
 * (quote x), `x as (quasiquote x), ,x as (unquote x), ,@x as
 * (unquote-splicing x).  Nodes are GC-allocated and immutable once read. */
#ifndef AVM_SYNTAX_H
#define AVM_SYNTAX_H
#include <stdbool.h>
#include <stdint.h>
#include "util/diag.h"
#include "util/symbol.h"

typedef enum SyntaxKind {
  SX_INT,    /* i */
  SX_STR,    /* str (UTF-8 bytes, NUL-terminated; len excludes the NUL) */
  SX_SYM,    /* sym */
  SX_BOOL,   /* b */
  SX_LIST    /* list: items[0..n-1], tail is NULL for a proper list,
                else the datum after the dot */
} SyntaxKind;

typedef struct Syntax Syntax;
struct Syntax {
  SyntaxKind kind;
  Loc loc;
  union {
    int64_t i;
    bool b;
    Symbol *sym;
    struct { const char *s; size_t len; } str;
    struct { Syntax **items; int n; Syntax *tail; } list;
  } u;
};

/* A parsed file: its top-level data in order. */
typedef struct SyntaxList {
  Syntax **items;
  int n;
} SyntaxList;

/* Reads all data in [text] (of [len] bytes) named [file] (a name returned by
 * diag_add_source).  Reports every syntax error it can to [d] and returns
 * false if there was any.  A first line starting with "#!" is skipped but
 * counted.  [out] receives the data read so far even on failure. */
bool read_source(Diag *d, const char *file, const char *text, size_t len, SyntaxList *out);
/* The same, numbering lines from [first_line]: the REPL reads each input
 * at its place in the session. */
bool read_source_from(Diag *d, const char *file, const char *text, size_t len, int first_line, SyntaxList *out);

/* True when the last read_source failure on [text] was only "unexpected end
 * of input" (an open list, string or block comment): the REPL then reads
 * another line instead of reporting. */
bool read_is_incomplete(const char *file, const char *text, size_t len);

/* Constructors used by the reader and by desugaring (GC-allocated). */
Syntax *sx_int(Loc loc, int64_t i);
Syntax *sx_bool(Loc loc, bool b);
Syntax *sx_sym(Loc loc, Symbol *s);
Syntax *sx_str(Loc loc, const char *s, size_t len);
Syntax *sx_list(Loc loc, Syntax **items, int n, Syntax *tail);
Syntax *sx_list2(Loc loc, Syntax *a, Syntax *b);
Syntax *sx_list3(Loc loc, Syntax *a, Syntax *b, Syntax *c);

/* Helpers for walking forms. */
static inline bool sx_is_sym(const Syntax *s, const Symbol *sym) {
  return s && s->kind == SX_SYM && s->u.sym == sym;
}
static inline bool sx_is_list(const Syntax *s) { return s && s->kind == SX_LIST && !s->u.list.tail; }

#endif
