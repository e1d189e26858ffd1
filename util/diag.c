/* util/diag.c — GNU-style diagnostics with the offending source line and a
 * caret (or ^~~~ underline) under the span. */
#include "util/diag.h"
#include <stdlib.h>
#include <string.h>

void diag_init(Diag *d, FILE *out) {
  d->out = out ? out : stderr;
  d->nerrors = 0;
  d->max_errors = 20;
  d->sources = NULL;
  d->last = (Loc){ 0 };
}

const char *diag_add_source(Diag *d, const char *name, const char *text, size_t len) {
  return diag_add_source_from(d, name, text, len, 1);
}

const char *diag_add_source_from(Diag *d, const char *name, const char *text, size_t len, int first_line) {
  Source *s = malloc(sizeof *s);
  if (!s) abort();
  s->name = strdup(name);
  if (!s->name) abort();
  s->text = text;
  s->len = len;
  s->first_line = first_line;
  s->next = d->sources;
  d->sources = s;
  return s->name;
}

void diag_print_loc(FILE *out, Loc loc) {
  if (!loc.file) return;
  if (loc.line > 0)
    fprintf(out, "%s:%d:%d: ", loc.file, loc.line, loc.col);
  else
    fprintf(out, "%s: ", loc.file);
}

/* The source a Loc names: by its name pointer first, since REPL inputs
 * share one name, then by the name's text. */
static const Source *find_source(Diag *d, const char *file) {
  for (Source *s = d->sources; s; s = s->next)
    if (s->name == file) return s;
  for (Source *s = d->sources; s; s = s->next)
    if (file && strcmp(s->name, file) == 0) return s;
  return NULL;
}

/* The text of line [line] of [s] (without its newline or a CR before it);
 * a REPL input's lines are numbered from its first_line. */
static bool source_line(const Source *s, int line, const char **start, int *width) {
  if (line < s->first_line) return false;
  const char *p = s->text, *end = s->text + s->len;
  for (int l = s->first_line; l < line && p < end; l++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) return false;
    p = nl + 1;
  }
  const char *eol = memchr(p, '\n', (size_t)(end - p));
  if (!eol) eol = end;
  int w = (int)(eol - p);
  if (w > 0 && p[w - 1] == '\r') w--;
  *start = p;
  *width = w;
  return true;
}

/* Quotes line [loc.line] of its source and underlines the span on it: to
 * its end column, or, for a span that goes on to later lines, to the last
 * non-blank character of this one (the first line shows where it starts). */
void diag_quote(Diag *d, Loc loc) {
  const Source *s = find_source(d, loc.file);
  const char *p;
  int width;
  if (!s || loc.line <= 0 || !source_line(s, loc.line, &p, &width)) return;
  fprintf(d->out, " %.*s\n ", width, p);
  int col = loc.col > 0 ? loc.col : 1;
  for (int i = 1; i < col; i++) fputc(i - 1 < width && p[i - 1] == '\t' ? '\t' : ' ', d->out);
  fputc('^', d->out);
  int last = col;
  if (loc.end_line == loc.line && loc.end_col > col + 1) {
    last = loc.end_col - 1;
  } else if (loc.end_line > loc.line) {
    last = width;
    while (last > col && (p[last - 1] == ' ' || p[last - 1] == '\t')) last--;
  }
  if (last > width) last = width;
  for (int i = col + 1; i <= last; i++) fputc('~', d->out);
  fputc('\n', d->out);
}

static bool same_loc(Loc a, Loc b) {
  return a.file && b.file && a.line == b.line && a.col == b.col && strcmp(a.file, b.file) == 0;
}

void diag_verror(Diag *d, Loc loc, const char *kind, const char *fmt, va_list ap) {
  bool is_error = strcmp(kind, "error") == 0;
  /* A note belongs to the error before it: shown if that one was. */
  if (is_error ? d->nerrors < d->max_errors : d->nerrors <= d->max_errors) {
    diag_print_loc(d->out, loc);
    fprintf(d->out, "%s: ", kind);
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    /* A note about the very span just quoted does not quote it again. */
    if (strcmp(kind, "note") != 0 || !same_loc(loc, d->last)) diag_quote(d, loc);
    d->last = loc;
  }
  if (is_error) d->nerrors++;
}

void diag_error(Diag *d, Loc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_verror(d, loc, "error", fmt, ap);
  va_end(ap);
}

void diag_note(Diag *d, Loc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_verror(d, loc, "note", fmt, ap);
  va_end(ap);
}
