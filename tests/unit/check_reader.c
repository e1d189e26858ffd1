/* tests/unit/check_reader.c — the reader (lang/lexer.l, lang/parser.y,
 * lang/syntax.c): atoms, lists, quote marks, comments, source spans, every
 * diagnostic's exact text, REPL incompleteness and deep nesting. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include "tests/unit/testutil.h"
#include <gc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lang/syntax.h"

/* {===== Helpers =====} */

typedef struct Read {
  bool ok;
  SyntaxList out;
  int nerrors;
  char *diag;   /* everything the Diag printed */
} Read;

/* Reads [len] bytes of [text] as file "t.avm", capturing diagnostics. */
static Read read_n(const char *text, size_t len) {
  Read r;
  size_t size;
  FILE *f = open_memstream(&r.diag, &size);
  ck_assert_ptr_nonnull(f);
  Diag d;
  diag_init(&d, f);
  const char *file = diag_add_source(&d, "t.avm", text, len);
  r.ok = read_source(&d, file, text, len, &r.out);
  r.nerrors = d.nerrors;
  fclose(f);
  return r;
}

static Read rd(const char *text) { return read_n(text, strlen(text)); }

/* Reads [text], which must hold exactly one datum and no error. */
static Syntax *one(const char *text) {
  Read r = rd(text);
  ck_assert_msg(r.ok, "reading %s failed: %s", text, r.diag);
  ck_assert_str_eq(r.diag, "");
  ck_assert_int_eq(r.out.n, 1);
  return r.out.items[0];
}

static void show_to(FILE *f, const Syntax *s) {
  switch (s->kind) {
  case SX_INT: fprintf(f, "%lld", (long long)s->u.i); break;
  case SX_BOOL: fputs(s->u.b ? "#t" : "#f", f); break;
  case SX_SYM: fputs(s->u.sym->name, f); break;
  case SX_STR:
    fputc('"', f);
    for (size_t i = 0; i < s->u.str.len; i++) {
      unsigned char c = (unsigned char)s->u.str.s[i];
      if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
      else if (c == '\n') fputs("\\n", f);
      else if (c < 0x20 || c == 0x7F) fprintf(f, "\\x%X;", c);
      else fputc(c, f);
    }
    fputc('"', f);
    break;
  case SX_LIST:
    fputc('(', f);
    for (int i = 0; i < s->u.list.n; i++) {
      if (i) fputc(' ', f);
      show_to(f, s->u.list.items[i]);
    }
    if (s->u.list.tail) {
      fputs(" . ", f);
      show_to(f, s->u.list.tail);
    }
    fputc(')', f);
    break;
  }
}

/* The datum in write-like form: (a "b" . 3). */
static char *show(const Syntax *s) {
  char *buf;
  size_t size;
  FILE *f = open_memstream(&buf, &size);
  show_to(f, s);
  fclose(f);
  return buf;
}

/* All top-level data of [r], separated by spaces. */
static char *show_all(Read r) {
  char *buf;
  size_t size;
  FILE *f = open_memstream(&buf, &size);
  for (int i = 0; i < r.out.n; i++) {
    if (i) fputc(' ', f);
    show_to(f, r.out.items[i]);
  }
  fclose(f);
  return buf;
}

/* "LINE:COL-END_LINE:END_COL" of [s]. */
static char *span(const Syntax *s) {
  static char buf[8][64];
  static int next;
  char *b = buf[next++ % 8];
  snprintf(b, 64, "%d:%d-%d:%d", s->loc.line, s->loc.col, s->loc.end_line, s->loc.end_col);
  return b;
}

static Syntax *item(const Syntax *s, int i) {
  ck_assert_int_eq(s->kind, SX_LIST);
  ck_assert_int_lt(i, s->u.list.n);
  return s->u.list.items[i];
}

/* Asserts that [text] fails to read with exactly diagnostics [expected]. */
static void fails(const char *text, const char *expected) {
  Read r = rd(text);
  ck_assert_msg(!r.ok, "reading %s should fail", text);
  ck_assert_str_eq(r.diag, expected);
}

/* Asserts that [text] fails with one error whose first line is [first]. */
static void fails_with(const char *text, const char *first) {
  Read r = rd(text);
  ck_assert_msg(!r.ok, "reading %s should fail", text);
  ck_assert_int_eq(r.nerrors, 1);
  size_t n = strcspn(r.diag, "\n");
  ck_assert_msg(strlen(first) == n && strncmp(r.diag, first, n) == 0,
                "reading %s: expected \"%s\", got \"%.*s\"", text, first, (int)n, r.diag);
}

static bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static char *repeat(const char *unit, int times, const char *tail) {
  size_t u = strlen(unit), t = strlen(tail);
  char *s = malloc(u * (size_t)times + t + 1);
  ck_assert_ptr_nonnull(s);
  for (int i = 0; i < times; i++) memcpy(s + u * (size_t)i, unit, u);
  memcpy(s + u * (size_t)times, tail, t + 1);
  return s;
}

/* {===== Integers =====} */

START_TEST(test_integers) {
  static const struct { const char *text; int64_t value; } cases[] = {
    {"42", 42}, {"-7", -7}, {"+5", 5}, {"0", 0}, {"-0", 0}, {"007", 7},
    {"0x2A", 42}, {"0x2a", 42}, {"0X2A", 42}, {"-0x2A", -42}, {"+0x10", 16},
    {"#x2A", 42}, {"#X2a", 42}, {"#x-2A", -42}, {"#x+ff", 255},
    {"9223372036854775807", INT64_MAX}, {"-9223372036854775808", INT64_MIN},
    {"0x7FFFFFFFFFFFFFFF", INT64_MAX}, {"-0x8000000000000000", INT64_MIN},
    {"#x-8000000000000000", INT64_MIN},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    Syntax *s = one(cases[i].text);
    ck_assert_int_eq(s->kind, SX_INT);
    ck_assert_msg(s->u.i == cases[i].value, "%s read as %lld", cases[i].text, (long long)s->u.i);
    ck_assert_int_eq(s->loc.line, 1);
    ck_assert_int_eq(s->loc.col, 1);
    ck_assert_int_eq(s->loc.end_col, 1 + (int)strlen(cases[i].text));
  }
}
END_TEST

START_TEST(test_integer_out_of_range) {
  fails("99999999999999999999",
        "t.avm:1:1: error: integer literal out of range: 99999999999999999999\n"
        " 99999999999999999999\n"
        " ^~~~~~~~~~~~~~~~~~~~\n");
  fails_with("9223372036854775808", "t.avm:1:1: error: integer literal out of range: 9223372036854775808");
  fails_with("(x -9223372036854775809)",
             "t.avm:1:4: error: integer literal out of range: -9223372036854775809");
  fails_with("0x8000000000000000", "t.avm:1:1: error: integer literal out of range: 0x8000000000000000");
  fails_with("0xFFFFFFFFFFFFFFFF", "t.avm:1:1: error: integer literal out of range: 0xFFFFFFFFFFFFFFFF");
  fails_with("#x10000000000000000", "t.avm:1:1: error: integer literal out of range: #x10000000000000000");
}
END_TEST

START_TEST(test_malformed_integers) {
  fails("1.5", "t.avm:1:1: error: malformed integer literal '1.5'\n 1.5\n ^~~\n");
  fails_with("12abc", "t.avm:1:1: error: malformed integer literal '12abc'");
  fails_with("-.5", "t.avm:1:1: error: malformed integer literal '-.5'");
  fails_with("0x", "t.avm:1:1: error: malformed integer literal '0x'");
  fails_with("0xG1", "t.avm:1:1: error: malformed integer literal '0xG1'");
  fails_with("#x", "t.avm:1:1: error: malformed integer literal '#x'");
  fails_with("#x1.0", "t.avm:1:1: error: malformed integer literal '#x1.0'");
  fails_with("1+", "t.avm:1:1: error: malformed integer literal '1+'");
}
END_TEST

/* {===== Booleans and # syntax =====} */

START_TEST(test_booleans) {
  static const struct { const char *text; bool value; } cases[] = {
    {"#t", true}, {"#f", false}, {"#true", true}, {"#false", false}, {"#T", true}, {"#FALSE", false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    Syntax *s = one(cases[i].text);
    ck_assert_int_eq(s->kind, SX_BOOL);
    ck_assert(s->u.b == cases[i].value);
    ck_assert_int_eq(s->loc.end_col, 1 + (int)strlen(cases[i].text));
  }
}
END_TEST

START_TEST(test_unknown_hash) {
  fails("#foo", "t.avm:1:1: error: unknown # syntax '#foo'\n #foo\n ^~~~\n");
  fails_with("(a #tru)", "t.avm:1:4: error: unknown # syntax '#tru'");
  fails_with("#", "t.avm:1:1: error: unknown # syntax '#'");
  Read c = rd("#\\a");
  ck_assert_int_eq(c.nerrors, 2);
  ck_assert(starts_with(c.diag, "t.avm:1:1: error: unknown # syntax '#'\n"));
  fails_with("x #!fold-case", "t.avm:1:3: error: unknown # syntax '#!fold-case'");
  /* #( is reported, and the list after it is still read */
  Read r = rd("#(1 2) 3");
  ck_assert(!r.ok);
  ck_assert_str_eq(r.diag, "t.avm:1:1: error: unknown # syntax '#('\n #(1 2) 3\n ^\n");
  ck_assert_str_eq(show_all(r), "(1 2) 3");
  fails_with("#[1]", "t.avm:1:1: error: unknown # syntax '#['");
}
END_TEST

/* {===== Strings =====} */

START_TEST(test_strings) {
  Syntax *s = one("\"hello\"");
  ck_assert_int_eq(s->kind, SX_STR);
  ck_assert_uint_eq(s->u.str.len, 5);
  ck_assert_str_eq(s->u.str.s, "hello");
  ck_assert_str_eq(span(s), "1:1-1:8");

  s = one("\"\"");
  ck_assert_uint_eq(s->u.str.len, 0);
  ck_assert_str_eq(s->u.str.s, "");

  s = one("\"a\\nb\\tc\\rd\\\\e\\\"f\\ag\\bh\\|i\"");
  ck_assert_uint_eq(s->u.str.len, 17);
  ck_assert_mem_eq(s->u.str.s, "a\nb\tc\rd\\e\"f\ag\bh|i", 18);

  /* \0 and \x0; put a NUL inside; len counts it, a NUL still ends the bytes */
  s = one("\"a\\0b\\x0;c\"");
  ck_assert_uint_eq(s->u.str.len, 5);
  ck_assert_mem_eq(s->u.str.s, "a\0b\0c", 6);

  /* \xHH; is a scalar value, encoded in UTF-8 */
  s = one("\"\\x41;\\x3bb;\\xe9;\\x20AC;\\x1F600;\\x0041;\"");
  ck_assert_str_eq(s->u.str.s, "A\xCE\xBB\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80" "A");
  ck_assert_uint_eq(s->u.str.len, 13);

  /* raw UTF-8 passes through; a newline may stand in a string */
  s = one("\"caf\xC3\xA9 \xE2\x86\x92\nx\"");
  ck_assert_str_eq(s->u.str.s, "caf\xC3\xA9 \xE2\x86\x92\nx");
  ck_assert_str_eq(span(s), "1:1-2:3");

  /* backslash-newline joins lines, dropping the blanks around the break */
  s = one("\"abc\\   \n    def\"");
  ck_assert_str_eq(s->u.str.s, "abcdef");
  ck_assert_str_eq(span(s), "1:1-2:9");
  s = one("\"a\\\r\n\tb\"");
  ck_assert_str_eq(s->u.str.s, "ab");
}
END_TEST

START_TEST(test_string_errors) {
  fails("\"a\\qb\"",
        "t.avm:1:3: error: unknown escape sequence '\\q' in string\n"
        " \"a\\qb\"\n"
        "   ^~\n");
  fails("\"\\x41\"",
        "t.avm:1:2: error: malformed \\x escape (expected hex digits and ';')\n"
        " \"\\x41\"\n"
        "  ^~~~\n");
  fails_with("\"\\x;\"", "t.avm:1:2: error: malformed \\x escape (expected hex digits and ';')");
  fails_with("\"\\xZZ;\"", "t.avm:1:2: error: malformed \\x escape (expected hex digits and ';')");
  fails("\"\\xD800;\"",
        "t.avm:1:2: error: invalid code point in \\x escape '\\xD800;'\n"
        " \"\\xD800;\"\n"
        "  ^~~~~~~\n");
  fails_with("\"\\xDFFF;\"", "t.avm:1:2: error: invalid code point in \\x escape '\\xDFFF;'");
  fails_with("\"\\x110000;\"", "t.avm:1:2: error: invalid code point in \\x escape '\\x110000;'");
  fails_with("\"\\xFFFFFFFFFFFF;\"",
             "t.avm:1:2: error: invalid code point in \\x escape '\\xFFFFFFFFFFFF;'");
  fails_with("\"\\\xC3\xA9\"", "t.avm:1:2: error: unknown escape sequence '\\\xC3\xA9' in string");
  fails_with("\"\\ x\"", "t.avm:1:2: error: unknown escape sequence '\\ ' in string");
  fails_with("\"\\\x01\"", "t.avm:1:2: error: unknown escape sequence '\\\\x1;' in string");

  /* the string is still read (without the bad escape), and scanning goes on */
  Read r = rd("(\"a\\qb\\x;c\" 99999999999999999999 ok)");
  ck_assert(!r.ok);
  ck_assert_int_eq(r.nerrors, 3);
  ck_assert_str_eq(show_all(r), "(\"abc\" 0 ok)");

  fails("  \"abc",
        "t.avm:1:3: error: unterminated string literal\n"
        "   \"abc\n"
        "   ^\n");
  fails_with("(display \"abc\ndef)\n", "t.avm:1:10: error: unterminated string literal");
  fails_with("\"abc\\", "t.avm:1:1: error: unterminated string literal");
}
END_TEST

/* {===== Symbols =====} */

START_TEST(test_symbols) {
  static const char *const names[] = {
    "ship", "set-state", "<-", "list->string", "any?", "+", "-", "...", "->x", "-x", "+a",
    "a.b", "..", ".a", "!$%&*/:<=>?^_~@", "x1", "ABC", "set!", "\xCE\xBB", "caf\xC3\xA9",
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    Syntax *s = one(names[i]);
    ck_assert_int_eq(s->kind, SX_SYM);
    ck_assert_str_eq(s->u.sym->name, names[i]);
    ck_assert_ptr_eq(s->u.sym, sym_intern_cstr(names[i]));
  }
  /* columns count code points */
  Syntax *s = one("\xCE\xBB\xCE\xBB");
  ck_assert_str_eq(span(s), "1:1-1:3");
  /* case matters */
  Read r = rd("Ship ship");
  ck_assert_ptr_ne(r.out.items[0]->u.sym, r.out.items[1]->u.sym);
}
END_TEST

START_TEST(test_bar_symbols) {
  Syntax *s = one("|sym with spaces|");
  ck_assert_int_eq(s->kind, SX_SYM);
  ck_assert_str_eq(s->u.sym->name, "sym with spaces");
  ck_assert_str_eq(span(s), "1:1-1:18");
  s = one("|a\\|b\\x41;|");
  ck_assert_str_eq(s->u.sym->name, "a|bA");
  s = one("||");
  ck_assert_str_eq(s->u.sym->name, "");
  ck_assert_ptr_eq(one("|abc|")->u.sym, one("abc")->u.sym);
  fails("|abc", "t.avm:1:1: error: unterminated |symbol|\n |abc\n ^\n");
  fails_with("|a\\qb|", "t.avm:1:3: error: unknown escape sequence '\\q' in symbol");
}
END_TEST

/* {===== Lists =====} */

START_TEST(test_lists) {
  Syntax *s = one("()");
  ck_assert_int_eq(s->kind, SX_LIST);
  ck_assert_int_eq(s->u.list.n, 0);
  ck_assert_ptr_null(s->u.list.tail);
  ck_assert(sx_is_list(s));
  ck_assert_str_eq(span(s), "1:1-1:3");

  s = one("(a 1 \"x\" #t)");
  ck_assert_int_eq(s->u.list.n, 4);
  ck_assert(sx_is_sym(item(s, 0), sym_intern_cstr("a")));
  ck_assert_int_eq(item(s, 1)->u.i, 1);
  ck_assert_str_eq(item(s, 2)->u.str.s, "x");
  ck_assert(item(s, 3)->u.b);
  ck_assert_str_eq(span(s), "1:1-1:13");
  ck_assert_str_eq(span(item(s, 0)), "1:2-1:3");
  ck_assert_str_eq(span(item(s, 2)), "1:6-1:9");

  s = one("[a [b] (c)]");
  ck_assert_str_eq(show(s), "(a (b) (c))");
  ck_assert_str_eq(span(item(s, 1)), "1:4-1:7");

  s = one("(a . b)");
  ck_assert_int_eq(s->u.list.n, 1);
  ck_assert_ptr_nonnull(s->u.list.tail);
  ck_assert(sx_is_sym(s->u.list.tail, sym_intern_cstr("b")));
  ck_assert(!sx_is_list(s));
  ck_assert_str_eq(span(s->u.list.tail), "1:6-1:7");

  ck_assert_str_eq(show(one("(a b . c)")), "(a b . c)");
  ck_assert_str_eq(show(one("(a . (b c))")), "(a . (b c))");
  ck_assert_str_eq(show(one("[1 . 2]")), "(1 . 2)");
  ck_assert_str_eq(show(one("(a .b)")), "(a .b)");
  ck_assert_str_eq(show(one("(((a)) ((b c) d) ())")), "(((a)) ((b c) d) ())");

  Read r = rd("a (b) \"c\"\n 4 ; done");
  ck_assert(r.ok);
  ck_assert_int_eq(r.out.n, 4);
  ck_assert_str_eq(show_all(r), "a (b) \"c\" 4");
  ck_assert_str_eq(span(r.out.items[3]), "2:2-2:3");

  r = rd("");
  ck_assert(r.ok);
  ck_assert_int_eq(r.out.n, 0);
  r = rd("  \n\t ; nothing\n");
  ck_assert(r.ok);
  ck_assert_int_eq(r.out.n, 0);

  /* a long list */
  char *text = repeat("x ", 100000, "");
  text[0] = '(';
  text[strlen(text) - 1] = ')';
  s = one(text);
  ck_assert_int_eq(s->u.list.n, 99999);
  free(text);
}
END_TEST

START_TEST(test_list_spans) {
  Syntax *s = one("(define (f x)\n  (+ x\n     1))");
  ck_assert_str_eq(span(s), "1:1-3:9");
  ck_assert_str_eq(span(item(s, 1)), "1:9-1:14");
  Syntax *body = item(s, 2);
  ck_assert_str_eq(span(body), "2:3-3:8");
  ck_assert_str_eq(span(item(body, 2)), "3:6-3:7");
  ck_assert_str_eq(s->loc.file, "t.avm");
  ck_assert_str_eq(item(body, 2)->loc.file, "t.avm");
  /* CRLF line ends */
  Read r = rd("a\r\nb");
  ck_assert_str_eq(span(r.out.items[1]), "2:1-2:2");
}
END_TEST

START_TEST(test_quotes) {
  Syntax *s = one("'x");
  ck_assert_str_eq(show(s), "(quote x)");
  ck_assert_str_eq(span(s), "1:1-1:3");
  ck_assert(sx_is_sym(item(s, 0), sym_intern_cstr("quote")));
  ck_assert_str_eq(span(item(s, 0)), "1:1-1:2");
  ck_assert_str_eq(span(item(s, 1)), "1:2-1:3");

  s = one("`(a ,b ,@c)");
  ck_assert_str_eq(show(s), "(quasiquote (a (unquote b) (unquote-splicing c)))");
  ck_assert_str_eq(span(s), "1:1-1:12");
  Syntax *inner = item(s, 1);
  ck_assert_str_eq(span(item(inner, 1)), "1:5-1:7");
  ck_assert_str_eq(span(item(inner, 2)), "1:8-1:11");
  ck_assert_str_eq(span(item(item(inner, 2), 0)), "1:8-1:10");

  ck_assert_str_eq(show(one("''a")), "(quote (quote a))");
  ck_assert_str_eq(show(one("' x")), "(quote x)");
  ck_assert_str_eq(show(one("'()")), "(quote ())");
  ck_assert_str_eq(show(one("(a . 'b)")), "(a . (quote b))");
  ck_assert_str_eq(show(one(", @x")), "(unquote @x)");
  s = one("'\n  (a b)");
  ck_assert_str_eq(span(s), "1:1-2:8");
}
END_TEST

/* {===== Comments =====} */

START_TEST(test_comments) {
  Read r = rd("; line comment\na ; tail\n;; last");
  ck_assert(r.ok);
  ck_assert_str_eq(show_all(r), "a");
  ck_assert_str_eq(span(r.out.items[0]), "2:1-2:2");

  r = rd("#| block |# a #| nested #| inner |# still |# b #||# c");
  ck_assert(r.ok);
  ck_assert_str_eq(show_all(r), "a b c");
  ck_assert_str_eq(span(r.out.items[1]), "1:46-1:47");

  r = rd("#| multi\nline\n|# x");
  ck_assert_str_eq(span(r.out.items[0]), "3:4-3:5");
  ck_assert_str_eq(show(one("(a #| x |# b)")), "(a b)");
  ck_assert_str_eq(show(one("#|a|#x")), "x");
  ck_assert_str_eq(show(one("#| ; |# x")), "x");
  ck_assert_str_eq(show(one("#| \"|# x")), "x");
  ck_assert_str_eq(show(one("#| |||# x")), "x");
  ck_assert_str_eq(show(one("\"; not a comment\"")), "\"; not a comment\"");
}
END_TEST

START_TEST(test_datum_comments) {
  Read r = rd("#;(skip me) a #; b c");
  ck_assert(r.ok);
  ck_assert_str_eq(show_all(r), "a c");
  ck_assert_str_eq(show(one("(a #;b c)")), "(a c)");
  ck_assert_str_eq(show(one("(a #;b)")), "(a)");
  ck_assert_str_eq(show(one("(#;a)")), "()");
  ck_assert_str_eq(show(one("#; #; a b c")), "c");
  ck_assert_str_eq(show(one("(x #; #;a b)")), "(x)");
  ck_assert_str_eq(show(one("(x #; #;a #;b c d)")), "(x d)");
  ck_assert_str_eq(show(one("'#;a b")), "(quote b)");
  ck_assert_str_eq(show(one("(a . #;b c)")), "(a . c)");
  ck_assert_str_eq(show(one("(a . c #;d)")), "(a . c)");
  ck_assert_str_eq(show(one("#;'a b")), "b");
  ck_assert_str_eq(show(one("#;#| x |#a b")), "b");
  ck_assert_str_eq(span(one("'#;a b")), "1:1-1:7");
}
END_TEST

START_TEST(test_shebang) {
  Read r = rd("#!/usr/bin/env avm run\n(display 1)\n");
  ck_assert(r.ok);
  ck_assert_str_eq(show_all(r), "(display 1)");
  ck_assert_str_eq(span(r.out.items[0]), "2:1-2:12");
  r = rd("#!avm");
  ck_assert(r.ok);
  ck_assert_int_eq(r.out.n, 0);
  /* only on the first line */
  fails_with("x\n#!avm", "t.avm:2:1: error: unknown # syntax '#!avm'");
  fails_with("#!avm \xFF\n(", "t.avm:2:1: error: unexpected end of file: '(' opened here is never closed");
}
END_TEST

/* {===== List errors =====} */

START_TEST(test_stray_close) {
  Read r = rd("(a) ) (b)\n]");
  ck_assert(!r.ok);
  ck_assert_str_eq(r.diag,
                   "t.avm:1:5: error: unexpected ')'\n"
                   " (a) ) (b)\n"
                   "     ^\n"
                   "t.avm:2:1: error: unexpected ']'\n"
                   " ]\n"
                   " ^\n");
  ck_assert_str_eq(show_all(r), "(a) (b)");
}
END_TEST

START_TEST(test_mismatched_close) {
  Read r = rd("(a [b c)\n d]");
  ck_assert(!r.ok);
  ck_assert_str_eq(r.diag,
                   "t.avm:1:8: error: expected ']' to close '[' at 1:4, found ')'\n"
                   " (a [b c)\n"
                   "        ^\n"
                   "t.avm:2:3: error: expected ')' to close '(' at 1:1, found ']'\n"
                   "  d]\n"
                   "   ^\n");
  ck_assert_str_eq(show_all(r), "(a (b c) d)");
}
END_TEST

START_TEST(test_unclosed) {
  fails("(define (f x)\n  (+ x 1)\n",
        "t.avm:1:1: error: unexpected end of file: '(' opened here is never closed\n"
        " (define (f x)\n"
        " ^\n");
  /* one error, at the innermost open bracket; data before it are kept */
  Read r = rd("ok (a (b [c");
  ck_assert(!r.ok);
  ck_assert_int_eq(r.nerrors, 1);
  ck_assert_str_eq(r.diag,
                   "t.avm:1:10: error: unexpected end of file: '[' opened here is never closed\n"
                   " ok (a (b [c\n"
                   "          ^\n");
  ck_assert_str_eq(show_all(r), "ok");
  /* a string or comment left open inside a list is the only error */
  fails_with("(a \"b", "t.avm:1:4: error: unterminated string literal");
  fails_with("(a #| b", "t.avm:1:4: error: unterminated block comment");
}
END_TEST

START_TEST(test_dot_errors) {
  fails("(. a)", "t.avm:1:2: error: expected a datum before '.'\n (. a)\n  ^\n");
  fails("(a .)", "t.avm:1:4: error: expected a datum after '.'\n (a .)\n    ^\n");
  fails("(a . b c)", "t.avm:1:8: error: expected ')' after the datum following '.'\n (a . b c)\n        ^\n");
  fails_with("[a . b c]", "t.avm:1:8: error: expected ']' after the datum following '.'");
  fails("(a . b . c)", "t.avm:1:8: error: unexpected '.'\n (a . b . c)\n        ^\n");
  fails_with("(a . . b)", "t.avm:1:6: error: unexpected '.'");
  fails_with("(.)", "t.avm:1:2: error: expected a datum before '.'");
  Read r = rd(". a");
  ck_assert(!r.ok);
  ck_assert_str_eq(r.diag, "t.avm:1:1: error: unexpected '.'\n . a\n ^\n");
  ck_assert_str_eq(show_all(r), "a");
  /* reading goes on after a bad list */
  r = rd("(a . b c) (d . e)");
  ck_assert_int_eq(r.nerrors, 1);
  ck_assert_str_eq(show_all(r), "(a b c) (d . e)");
}
END_TEST

START_TEST(test_missing_datum) {
  fails("'", "t.avm:1:1: error: expected a datum after the quote mark, found end of file\n '\n ^\n");
  fails_with("(a `", "t.avm:1:4: error: expected a datum after the quasiquote mark, found end of file");
  fails_with("(a ,)", "t.avm:1:4: error: expected a datum after the unquote mark, found ')'");
  fails_with("[a ,@]", "t.avm:1:4: error: expected a datum after the unquote-splicing mark, found ']'");
  fails_with("(a ' . b)", "t.avm:1:4: error: expected a datum after the quote mark, found '.'");
  fails("#;", "t.avm:1:1: error: expected a datum after the datum comment, found end of file\n #;\n ^~\n");
  fails_with("(a #;)", "t.avm:1:4: error: expected a datum after the datum comment, found ')'");
  fails_with("(''", "t.avm:1:3: error: expected a datum after the quote mark, found end of file");
  Read r = rd("(a ') (b)");
  ck_assert_int_eq(r.nerrors, 1);
  ck_assert_str_eq(show_all(r), "(a) (b)");
}
END_TEST

/* {===== Other errors =====} */

START_TEST(test_unterminated_block_comment) {
  fails("a #| x #| y |# z",
        "t.avm:1:3: error: unterminated block comment\n"
        " a #| x #| y |# z\n"
        "   ^~\n");
}
END_TEST

START_TEST(test_unexpected_character) {
  Read r = rd("(a { b) }");
  ck_assert_str_eq(r.diag,
                   "t.avm:1:4: error: unexpected character '{'\n"
                   " (a { b) }\n"
                   "    ^\n"
                   "t.avm:1:9: error: unexpected character '}'\n"
                   " (a { b) }\n"
                   "         ^\n");
  ck_assert_str_eq(show_all(r), "(a b)");
  Read n = read_n("a \x01 b", 5);
  ck_assert_int_eq(n.nerrors, 1);
  ck_assert(starts_with(n.diag, "t.avm:1:3: error: unexpected character '\\x1;'\n"));
  Read z = read_n("a \0 b", 5);
  ck_assert(starts_with(z.diag, "t.avm:1:3: error: unexpected character '\\x0;'\n"));
  ck_assert_str_eq(show_all(z), "a b");
}
END_TEST

START_TEST(test_invalid_utf8) {
  fails("ab\xFF" "cd", "t.avm:1:3: error: invalid UTF-8 in source\n ab\xFF" "cd\n   ^\n");
  /* in a string, a comment, truncated at the end; one report per line */
  fails_with("\"\xC3\"", "t.avm:1:2: error: invalid UTF-8 in source");
  fails_with("; \xE2\x82\n", "t.avm:1:3: error: invalid UTF-8 in source");
  fails_with("x \xF0\x9F\x98", "t.avm:1:3: error: invalid UTF-8 in source");
  fails_with("\xC0\xAF \xFE \xFF", "t.avm:1:1: error: invalid UTF-8 in source");
  fails_with("\"\xED\xA0\x80\"", "t.avm:1:2: error: invalid UTF-8 in source");   /* surrogate */
  fails_with("\xF4\x90\x80\x80", "t.avm:1:1: error: invalid UTF-8 in source");   /* > U+10FFFF */
  Read r = rd("\xFF\n\xFF");
  ck_assert_int_eq(r.nerrors, 2);
  /* valid 1- to 4-byte sequences pass */
  ck_assert_str_eq(one("\"\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\"")->u.str.s,
                   "\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF");
}
END_TEST

START_TEST(test_several_errors) {
  Read r = rd("(define x \"a\\q\")\n"
              "(+ 1 99999999999999999999)\n"
              ")\n"
              "#bad\n"
              "(ok)\n");
  ck_assert(!r.ok);
  ck_assert_int_eq(r.nerrors, 4);
  ck_assert_str_eq(r.diag,
                   "t.avm:1:13: error: unknown escape sequence '\\q' in string\n"
                   " (define x \"a\\q\")\n"
                   "             ^~\n"
                   "t.avm:2:6: error: integer literal out of range: 99999999999999999999\n"
                   " (+ 1 99999999999999999999)\n"
                   "      ^~~~~~~~~~~~~~~~~~~~\n"
                   "t.avm:3:1: error: unexpected ')'\n"
                   " )\n"
                   " ^\n"
                   "t.avm:4:1: error: unknown # syntax '#bad'\n"
                   " #bad\n"
                   " ^~~~\n");
  ck_assert_str_eq(show_all(r), "(define x \"a\") (+ 1 0) #f (ok)");
}
END_TEST

/* {===== REPL support =====} */

START_TEST(test_incomplete) {
  static const char *const incomplete[] = {
    "(", "(define (f x)\n", "[a (b", "\"abc", "(display \"abc\n", "#| x", "#| #| |#",
    "'", "(a '", "`", ",@", "#;", "(a #;", "|ab", "\"abc\\", "(a \"b",
    "(a \"b\\q",   /* a string is checked once it is complete */
  };
  static const char *const complete_or_wrong[] = {
    "", "x", "(a b)", "\"abc\"", ")", "(a]", "(a . b c)", "'x", "#| x |#", "(a \"b\\q\"",
    "(99999999999999999999", "(\xFF", "#foo (", ". (", "(a ')",
  };
  for (size_t i = 0; i < sizeof incomplete / sizeof incomplete[0]; i++)
    ck_assert_msg(read_is_incomplete("t.avm", incomplete[i], strlen(incomplete[i])),
                  "%s should be incomplete", incomplete[i]);
  for (size_t i = 0; i < sizeof complete_or_wrong / sizeof complete_or_wrong[0]; i++)
    ck_assert_msg(!read_is_incomplete("t.avm", complete_or_wrong[i], strlen(complete_or_wrong[i])),
                  "%s should not be incomplete", complete_or_wrong[i]);
}
END_TEST

/* read_is_incomplete prints nothing, to stdout or stderr. */
START_TEST(test_incomplete_is_quiet) {
  fflush(stdout);
  fflush(stderr);
  FILE *tmp = tmpfile();
  ck_assert_ptr_nonnull(tmp);
  int saved_out = dup(1), saved_err = dup(2);
  dup2(fileno(tmp), 1);
  dup2(fileno(tmp), 2);
  bool inc = read_is_incomplete("t.avm", "(a ]", 4);
  bool inc2 = read_is_incomplete("t.avm", "(a", 2);
  fflush(stdout);
  fflush(stderr);
  dup2(saved_out, 1);
  dup2(saved_err, 2);
  close(saved_out);
  close(saved_err);
  ck_assert(!inc);
  ck_assert(inc2);
  fseek(tmp, 0, SEEK_END);
  ck_assert_int_eq(ftell(tmp), 0);
  fclose(tmp);
}
END_TEST

/* {===== Nesting and the collector =====} */

START_TEST(test_nesting) {
  /* 1000 levels are read */
  char *open = repeat("(", 1000, "x");
  char *text = repeat(")", 1000, "");
  char *full = malloc(strlen(open) + strlen(text) + 1);
  strcpy(full, open);
  strcat(full, text);
  Syntax *s = one(full);
  for (int i = 0; i < 1000; i++) s = item(s, 0);
  ck_assert(sx_is_sym(s, sym_intern_cstr("x")));
  free(full);
  free(open);
  free(text);

  char *quotes = repeat("'", 1000, "x");
  s = one(quotes);
  for (int i = 0; i < 1000; i++) s = item(s, 1);
  ck_assert(sx_is_sym(s, sym_intern_cstr("x")));
  free(quotes);

  /* one more is an error at the bracket that goes too deep */
  char *deeper = repeat("(", 1001, ")");
  Read r = rd(deeper);
  ck_assert(!r.ok);
  ck_assert_int_eq(r.nerrors, 1);
  ck_assert(starts_with(r.diag, "t.avm:1:1001: error: nesting too deep\n"));
  free(deeper);
}
END_TEST

START_TEST(test_very_deep_nesting) {
  char *parens = repeat("(", 100000, "");
  Read r = rd(parens);
  ck_assert(!r.ok);
  ck_assert_int_eq(r.nerrors, 1);
  ck_assert(starts_with(r.diag, "t.avm:1:1001: error: nesting too deep\n"));
  ck_assert(!read_is_incomplete("t.avm", parens, strlen(parens)));
  free(parens);

  char *balanced = repeat("(", 100000, "");
  char *closes = repeat(")", 100000, "");
  char *full = malloc(200001);
  strcpy(full, balanced);
  strcat(full, closes);
  r = rd(full);
  ck_assert_int_eq(r.nerrors, 1);
  free(full);
  free(balanced);
  free(closes);

  char *quotes = repeat("'", 100000, "x");
  r = rd(quotes);
  ck_assert_int_eq(r.nerrors, 1);
  ck_assert(starts_with(r.diag, "t.avm:1:1001: error: nesting too deep\n"));
  free(quotes);
}
END_TEST

/* Data stay intact while the collector runs during and after a read that
 * grows the parser's stacks past their initial (automatic) size. */
START_TEST(test_gc_during_read) {
  enum { DEPTH = 900, WIDTH = 60 };
  size_t cap = (size_t)DEPTH * (WIDTH * 24 + 4) + 16, n = 0;
  char *text = malloc(cap);
  for (int d = 0; d < DEPTH; d++) {
    text[n++] = '(';
    for (int w = 0; w < WIDTH; w++)
      n += (size_t)snprintf(text + n, cap - n, "\"s%d-%d-padding\" ", d, w);
  }
  for (int d = 0; d < DEPTH; d++) text[n++] = ')';
  text[n] = '\0';
  Read r = read_n(text, n);
  ck_assert(r.ok);
  GC_gcollect();
  /* churn the heap so that freed blocks would be reused */
  for (int i = 0; i < 200000; i++) {
    char *junk = GC_MALLOC_ATOMIC(32);
    memset(junk, 'Z', 32);
  }
  GC_gcollect();
  Syntax *s = r.out.items[0];
  char want[64];
  for (int d = 0; d < DEPTH; d++) {
    ck_assert_int_eq(s->kind, SX_LIST);
    ck_assert_int_eq(s->u.list.n, WIDTH + (d < DEPTH - 1));
    for (int w = 0; w < WIDTH; w++) {
      snprintf(want, sizeof want, "s%d-%d-padding", d, w);
      ck_assert_str_eq(s->u.list.items[w]->u.str.s, want);
    }
    if (d < DEPTH - 1) s = s->u.list.items[WIDTH];
  }
  free(text);
}
END_TEST

/* {===== Constructors =====} */

START_TEST(test_constructors) {
  Loc loc = {"f.avm", 3, 4, 3, 9};
  Syntax *items[2] = {sx_int(loc, 1), sx_bool(loc, true)};
  Syntax *l = sx_list(loc, items, 2, sx_sym(loc, sym_intern_cstr("t")));
  items[0] = NULL;   /* sx_list copied the array */
  ck_assert_str_eq(show(l), "(1 #t . t)");
  ck_assert_str_eq(l->loc.file, "f.avm");
  ck_assert_int_eq(l->loc.end_col, 9);
  Syntax *s = sx_str(loc, "ab\0cd", 5);
  ck_assert_uint_eq(s->u.str.len, 5);
  ck_assert_mem_eq(s->u.str.s, "ab\0cd", 6);
  ck_assert_str_eq(show(sx_list2(loc, sx_int(loc, 1), sx_int(loc, 2))), "(1 2)");
  ck_assert_str_eq(show(sx_list3(loc, sx_int(loc, 1), sx_int(loc, 2), sx_int(loc, 3))), "(1 2 3)");
  ck_assert_str_eq(show(sx_list(loc, NULL, 0, NULL)), "()");
}
END_TEST

static Suite *reader_suite(void) {
  Suite *s = suite_create("reader");
  TCase *atoms = tcase_create("atoms");
  tcase_add_test(atoms, test_integers);
  tcase_add_test(atoms, test_integer_out_of_range);
  tcase_add_test(atoms, test_malformed_integers);
  tcase_add_test(atoms, test_booleans);
  tcase_add_test(atoms, test_unknown_hash);
  tcase_add_test(atoms, test_strings);
  tcase_add_test(atoms, test_string_errors);
  tcase_add_test(atoms, test_symbols);
  tcase_add_test(atoms, test_bar_symbols);
  suite_add_tcase(s, atoms);

  TCase *lists = tcase_create("lists");
  tcase_add_test(lists, test_lists);
  tcase_add_test(lists, test_list_spans);
  tcase_add_test(lists, test_quotes);
  tcase_add_test(lists, test_comments);
  tcase_add_test(lists, test_datum_comments);
  tcase_add_test(lists, test_shebang);
  suite_add_tcase(s, lists);

  TCase *errors = tcase_create("errors");
  tcase_add_test(errors, test_stray_close);
  tcase_add_test(errors, test_mismatched_close);
  tcase_add_test(errors, test_unclosed);
  tcase_add_test(errors, test_dot_errors);
  tcase_add_test(errors, test_missing_datum);
  tcase_add_test(errors, test_unterminated_block_comment);
  tcase_add_test(errors, test_unexpected_character);
  tcase_add_test(errors, test_invalid_utf8);
  tcase_add_test(errors, test_several_errors);
  suite_add_tcase(s, errors);

  TCase *repl = tcase_create("repl");
  tcase_add_test(repl, test_incomplete);
  tcase_add_test(repl, test_incomplete_is_quiet);
  suite_add_tcase(s, repl);

  TCase *limits = tcase_create("limits");
  tcase_set_timeout(limits, 30);
  tcase_add_test(limits, test_nesting);
  tcase_add_test(limits, test_very_deep_nesting);
  tcase_add_test(limits, test_gc_during_read);
  tcase_add_test(limits, test_constructors);
  suite_add_tcase(s, limits);
  return s;
}

int main(void) {
  GC_INIT();
  return run_suite(reader_suite());
}
