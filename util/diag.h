/* util/diag.h — source locations and diagnostics.
 * Owns Loc, Source and Diag: every compile error in the toolchain, and every
 * runtime error avm reports (vm/report.c), goes through diag_error(), in GNU
 * form with the source line and a ^~~~ underline; diag_note() adds a
 * "FILE:LINE:COL: note: ..." line such as a "did you mean". */
#ifndef AVM_DIAG_H
#define AVM_DIAG_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* A span in a source file; lines and columns start at 1.  end_col is the
 * column just after the span's last character on end_line. */
typedef struct Loc {
  const char *file;
  int line, col, end_line, end_col;
} Loc;

/* A source text registered with a Diag so diagnostics can quote its lines. */
typedef struct Source {
  const char *name;
  const char *text;
  size_t len;
  int first_line;     /* the line number of text's first line */
  struct Source *next;
} Source;

typedef struct Diag {
  FILE *out;          /* where diagnostics go (stderr by default) */
  int nerrors;
  int max_errors;     /* stop reporting (not counting) beyond this many */
  Source *sources;
  Loc last;           /* the span the last diagnostic quoted */
} Diag;

void diag_init(Diag *d, FILE *out);
/* Registers [text] under [name]; returns the name pointer to use in Locs. */
const char *diag_add_source(Diag *d, const char *name, const char *text, size_t len);
/* The same for a text whose first line is line [first_line] of [name]
 * (a REPL input); each call gives a distinct name pointer. */
const char *diag_add_source_from(Diag *d, const char *name, const char *text, size_t len, int first_line);
void diag_error(Diag *d, Loc loc, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
void diag_verror(Diag *d, Loc loc, const char *kind, const char *fmt, va_list ap);
/* A note on the error just reported: printed only if that error was, and
 * without quoting the line again when it is about the same span. */
void diag_note(Diag *d, Loc loc, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
/* Prints the source line of [loc] and a ^~~~ underline under its span
 * (nothing when the source is not registered with [d]). */
void diag_quote(Diag *d, Loc loc);
/* Prints "FILE:LINE:COL: " for [loc] (nothing when loc.file is NULL). */
void diag_print_loc(FILE *out, Loc loc);

#endif
