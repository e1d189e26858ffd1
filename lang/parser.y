/* lang/parser.y — the grammar of .avm data: lists, dotted pairs, quote
 * marks and datum comments over the tokens of lang/lexer.l.  Owns ReadState,
 * the state one read shares between scanner, parser and read_source().
 *
 * The grammar is deliberately permissive so that most mistakes are reported
 * by actions with a precise message and parsing simply goes on: a stray ')'
 * or '.' at top level is a rule, a '.' inside a list is collected as an
 * element and checked when the list closes, a mismatched closing bracket
 * closes the list anyway.  Bison's own syntax errors remain only where input
 * ends inside a list, or where a quote mark or "#;" lacks its datum; each of
 * those has an error rule whose action reports it (yychar is the offending
 * lookahead), so yyreport_syntax_error() only keeps a safety net.
 *
 * Semantic values are GC pointers.  The parser's initial stacks are
 * automatic arrays on the C stack, which the collector scans; stacks grown
 * beyond YYINITDEPTH come from YYMALLOC, which is therefore the collector's
 * uncollectable (scanned) allocator.  YYMAXDEPTH bounds the nesting: every
 * open list, quote mark and "#;" takes two stack entries, so that
 * READ_MAX_DEPTH levels fit; beyond, Bison reports exhaustion through
 * yyerror(), which says "nesting too deep".  The bound also protects the
 * recursive passes that walk the Syntax tree later. */

%code top {
#include <gc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define YYMALLOC GC_MALLOC_UNCOLLECTABLE
#define YYFREE GC_FREE
/* Nesting levels (lists, quote marks, datum comments) a datum may have. */
#define READ_MAX_DEPTH 1000
/* The stack holds the start state, file, two entries per level and the
 * innermost token: so READ_MAX_DEPTH levels fit exactly. */
#define YYMAXDEPTH (2 * READ_MAX_DEPTH + 4)
}

%code requires {
#include <stdbool.h>
#include <stddef.h>
#include "lang/syntax.h"

#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

/* A growable GC-allocated array of data (list elements, top-level data). */
typedef struct SxVec {
  Syntax **items;
  int n, cap;
} SxVec;

/* Which quote mark a TK_PREFIX token is. */
enum { PFX_QUOTE, PFX_QUASIQUOTE, PFX_UNQUOTE, PFX_UNQUOTE_SPLICING, PFX_DATUM_COMMENT };

/* Everything one read shares.  It lives on the C stack of read_source(), so
 * the collector sees the GC pointer [top]; the scanner reaches it through
 * yyextra.  [buf] is malloc'd scratch for string literals and holds bytes
 * only, never GC pointers. */
typedef struct ReadState {
  Diag *d;
  const char *file;
  int line, col;              /* position of the next byte to scan */
  /* UTF-8 validation, carried across tokens */
  int u8_need;                /* continuation bytes still expected */
  unsigned char u8_lo, u8_hi; /* range of the next continuation byte */
  Loc u8_start;               /* where the pending sequence began */
  int u8_bad_line;            /* last line with a reported UTF-8 error */
  /* block comments */
  int comment_depth;
  Loc comment_loc;
  /* error bookkeeping */
  bool eof_reported;          /* an error already said input ended early */
  int eof_errors;             /* errors that only say input ended early */
  bool pending;               /* a syntax error no rule reported (yet) */
  Loc pending_loc;
  char pending_msg[160];
  /* scratch for string and |symbol| literals */
  char *buf;
  size_t blen, bcap;
  /* result */
  SxVec *top;
} ReadState;
}

%code provides {
#ifndef YYSTYPE
#define YYSTYPE PARSE_YYSTYPE
#endif
#ifndef YYLTYPE
#define YYLTYPE PARSE_YYLTYPE
#endif
/* The scanner (lang/lexer.l, Flex prefix lex_yy). */
#define YY_DECL int lex_yylex(PARSE_YYSTYPE *yylval_param, PARSE_YYLTYPE *yylloc_param, yyscan_t yyscanner)
YY_DECL;
int parse_yyparse(ReadState *st, yyscan_t scanner);
}

%code {
#define parse_yylex lex_yylex
static void yyerror(Loc *loc, ReadState *st, yyscan_t scanner, const char *msg);
static SxVec *vec_push(SxVec *v, Syntax *s);
static Syntax *dot_mark(Loc loc);
static Syntax *finish_list(ReadState *st, Loc loc, int open, SxVec *v, int close, Loc close_loc);
static void report_unclosed(ReadState *st, Loc open_loc, int open);
static void report_missing_datum(ReadState *st, Loc mark_loc, int prefix, int tok, int close);
static Symbol *prefix_symbol(int prefix);

#define YYLLOC_DEFAULT(Cur, Rhs, N)                                   \
  do {                                                                \
    if (N) {                                                          \
      (Cur).file = YYRHSLOC(Rhs, 1).file;                             \
      (Cur).line = YYRHSLOC(Rhs, 1).line;                             \
      (Cur).col = YYRHSLOC(Rhs, 1).col;                               \
      (Cur).end_line = YYRHSLOC(Rhs, N).end_line;                     \
      (Cur).end_col = YYRHSLOC(Rhs, N).end_col;                       \
    } else {                                                          \
      (Cur).file = YYRHSLOC(Rhs, 0).file;                             \
      (Cur).line = (Cur).end_line = YYRHSLOC(Rhs, 0).end_line;        \
      (Cur).col = (Cur).end_col = YYRHSLOC(Rhs, 0).end_col;           \
    }                                                                 \
  } while (0)
}

%define api.pure full
%define api.prefix {parse_yy}
%define api.token.prefix {TK_}
%define api.location.type {Loc}
%define parse.error custom
%locations
%parse-param {ReadState *st} {yyscan_t scanner}
%lex-param {yyscan_t scanner}

%union {
  Syntax *sx;
  int ch;      /* TK_OPEN, TK_CLOSE: the bracket; TK_PREFIX: a PFX_ code */
  SxVec *vec;
}

%token END 0 "end of file"
%token <sx> ATOM "datum"
%token <ch> OPEN "'('"
%token <ch> CLOSE "')'"
%token DOT "'.'"
%token <ch> PREFIX "quote mark"
%token DCOMMENT "'#;'"

%type <sx> datum list abbrev
%type <vec> elems

%%

file:
  %empty
| file datum     { if ($2) st->top = vec_push(st->top, $2); }
| file comment
| file CLOSE     { diag_error(st->d, @2, "unexpected '%c'", $2); }
| file DOT       { diag_error(st->d, @2, "unexpected '.'"); }
;

datum:
  ATOM
| list
| abbrev
;

list:
  OPEN elems CLOSE  { $$ = finish_list(st, @$, $1, $2, $3, @3); }
| OPEN elems error  { report_unclosed(st, @1, $1); $$ = NULL; }
;

elems:
  %empty            { $$ = NULL; }
| elems datum       { $$ = $2 ? vec_push($1, $2) : $1; }
| elems comment     { $$ = $1; }
| elems DOT         { $$ = vec_push($1, dot_mark(@2)); }
;

/* 'x  `x  ,x  ,@x — the datum may be preceded by datum comments. */
abbrev:
  PREFIX pre datum  { $$ = $3 ? sx_list2(@$, sx_sym(@1, prefix_symbol($1)), $3) : NULL; }
| PREFIX pre error  { report_missing_datum(st, @1, $1, yychar, yylval.ch); $$ = NULL; }
;

/* #; datum — skipped.  "#; #; a b" skips both a and b. */
comment:
  DCOMMENT pre datum
| DCOMMENT pre error { report_missing_datum(st, @1, PFX_DATUM_COMMENT, yychar, yylval.ch); }
;

pre:
  %empty
| pre comment
;

%%

/* Bison calls this only when the parser stack would exceed YYMAXDEPTH
 * (syntax errors go to yyreport_syntax_error). */
static void yyerror(Loc *loc, ReadState *st, yyscan_t scanner, const char *msg) {
  (void)scanner;
  if (strcmp(msg, "memory exhausted") == 0)
    diag_error(st->d, *loc, "nesting too deep");
  else
    diag_error(st->d, *loc, "%s", msg);
}

/* Every syntax error is reported by the action of the error rule that
 * catches it; this only prepares a message in case no rule does, for
 * read_source() to report. */
static int yyreport_syntax_error(const yypcontext_t *ctx, ReadState *st, yyscan_t scanner) {
  (void)scanner;
  yysymbol_kind_t expected[4];
  int n = yypcontext_expected_tokens(ctx, expected, 4);
  int len = snprintf(st->pending_msg, sizeof st->pending_msg, "unexpected %s",
                     yysymbol_name(yypcontext_token(ctx)));
  for (int i = 0; i < n && len > 0 && (size_t)len < sizeof st->pending_msg; i++)
    len += snprintf(st->pending_msg + len, sizeof st->pending_msg - (size_t)len, "%s%s",
                    i == 0 ? ", expected " : i == n - 1 ? " or " : ", ", yysymbol_name(expected[i]));
  st->pending = true;
  st->pending_loc = *yypcontext_location(ctx);
  return 0;
}

/* Appends [s] to [v] (NULL is an empty vector); returns the vector. */
static SxVec *vec_push(SxVec *v, Syntax *s) {
  if (!v) {
    v = GC_MALLOC(sizeof *v);
    if (!v) abort();
  }
  if (v->n == v->cap) {
    int ncap = v->cap ? v->cap * 2 : 8;
    Syntax **items = GC_MALLOC((size_t)ncap * sizeof *items);
    if (!items) abort();
    if (v->n) memcpy(items, v->items, (size_t)v->n * sizeof *items);
    v->items = items;
    v->cap = ncap;
  }
  v->items[v->n++] = s;
  return v;
}

/* A '.' inside a list is kept as an element until the list closes: a
 * symbol node with no symbol, carrying the dot's location. */
static Syntax *dot_mark(Loc loc) { return sx_sym(loc, NULL); }

static bool is_dot(const Syntax *s) { return s->kind == SX_SYM && s->u.sym == NULL; }

static int closer(int open) { return open == '[' ? ']' : ')'; }

/* Builds the list [v] read between [open] and [close] at [loc], checking
 * that the brackets match and that a '.' stands before exactly one final
 * datum.  After an error the list is still built (without its dots) so that
 * reading can go on. */
static Syntax *finish_list(ReadState *st, Loc loc, int open, SxVec *v, int close, Loc close_loc) {
  if (close != closer(open))
    diag_error(st->d, close_loc, "expected '%c' to close '%c' at %d:%d, found '%c'",
               closer(open), open, loc.line, loc.col, close);
  int n = v ? v->n : 0;
  Syntax **items = v ? v->items : NULL;
  int dot = -1, ndots = 0;
  for (int i = 0; i < n; i++)
    if (is_dot(items[i]) && ndots++ == 0) dot = i;
  if (ndots == 0) return sx_list(loc, items, n, NULL);
  if (ndots == 1 && dot > 0 && dot == n - 2)
    return sx_list(loc, items, dot, items[n - 1]);

  /* Report the first problem, then drop the dots. */
  if (dot == 0)
    diag_error(st->d, items[0]->loc, "expected a datum before '.'");
  else if (dot == n - 1)
    diag_error(st->d, items[dot]->loc, "expected a datum after '.'");
  else if (is_dot(items[dot + 1]))
    diag_error(st->d, items[dot + 1]->loc, "unexpected '.'");
  else if (is_dot(items[dot + 2]))
    diag_error(st->d, items[dot + 2]->loc, "unexpected '.'");
  else
    diag_error(st->d, items[dot + 2]->loc, "expected '%c' after the datum following '.'",
               closer(open));
  int m = 0;
  for (int i = 0; i < n; i++)
    if (!is_dot(items[i])) items[m++] = items[i];
  return sx_list(loc, items, m, NULL);
}

/* Input ended inside the list opened by [open] at [open_loc]. */
static void report_unclosed(ReadState *st, Loc open_loc, int open) {
  st->pending = false;
  if (st->eof_reported) return;   /* an unterminated string or comment said it */
  st->eof_reported = true;
  st->eof_errors++;
  open_loc.end_line = open_loc.line;
  open_loc.end_col = open_loc.col + 1;
  diag_error(st->d, open_loc, "unexpected end of file: '%c' opened here is never closed", open);
}

/* A quote mark or "#;" at [mark_loc] is followed by token [tok] (with
 * bracket [close] if it is a TK_CLOSE) instead of a datum. */
static void report_missing_datum(ReadState *st, Loc mark_loc, int prefix, int tok, int close) {
  static const char *const what[] = {
    [PFX_QUOTE] = "the quote mark", [PFX_QUASIQUOTE] = "the quasiquote mark",
    [PFX_UNQUOTE] = "the unquote mark", [PFX_UNQUOTE_SPLICING] = "the unquote-splicing mark",
    [PFX_DATUM_COMMENT] = "the datum comment",
  };
  st->pending = false;
  if (tok == TK_END) {
    if (st->eof_reported) return;
    st->eof_reported = true;
    st->eof_errors++;
    diag_error(st->d, mark_loc, "expected a datum after %s, found end of file", what[prefix]);
  } else if (tok == TK_CLOSE) {
    diag_error(st->d, mark_loc, "expected a datum after %s, found '%c'", what[prefix], close);
  } else {
    diag_error(st->d, mark_loc, "expected a datum after %s, found '.'", what[prefix]);
  }
}

static Symbol *prefix_symbol(int prefix) {
  switch (prefix) {
  case PFX_QUOTE: return sym_intern_cstr("quote");
  case PFX_QUASIQUOTE: return sym_intern_cstr("quasiquote");
  case PFX_UNQUOTE: return sym_intern_cstr("unquote");
  default: return sym_intern_cstr("unquote-splicing");
  }
}
