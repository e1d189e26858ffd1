/* vm/print.c — the printer: write (machine-readable, the form avm run uses
 * for results) and display.  Lists are walked with an explicit stack, so
 * arbitrarily long or deeply nested data prints without C recursion. */
#include <gc.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "vm/vm.h"

static void write_string(FILE *out, const String *s) {
  fputc('"', out);
  for (size_t i = 0; i < s->len; i++) {
    unsigned char c = (unsigned char)s->data[i];
    switch (c) {
      case '"': fputs("\\\"", out); break;
      case '\\': fputs("\\\\", out); break;
      case '\n': fputs("\\n", out); break;
      case '\t': fputs("\\t", out); break;
      default:
        if (c < 0x20 || c == 0x7f) fprintf(out, "\\x%02X;", c);
        else fputc(c, out);
    }
  }
  fputc('"', out);
}

/* A symbol that would not read back as itself is written |like this|. */
static bool symbol_needs_bars(const Symbol *s) {
  if (s->len == 0) return true;
  const char *n = s->name;
  if ((n[0] >= '0' && n[0] <= '9') ||
      ((n[0] == '-' || n[0] == '+') && s->len > 1 && n[1] >= '0' && n[1] <= '9'))
    return true;
  if (s->len == 1 && n[0] == '.') return true;
  for (size_t i = 0; i < s->len; i++) {
    unsigned char c = (unsigned char)n[i];
    if (c <= ' ' || strchr("()[]\"';`,|#", c)) return !(i > 0 && c == '#');
  }
  return false;
}

static void print_atom(FILE *out, Value v, bool display) {
  switch ((Tag)v.tag) {
    case T_NIL: fputs("()", out); break;
    case T_BOOL: fputs(v.as.b ? "#t" : "#f", out); break;
    case T_INT: fprintf(out, "%" PRId64, v.as.i); break;
    case T_UNSPEC: fputs("#<unspecified>", out); break;
    case T_NOTHING: fputs("nothing", out); break;
    case T_UNDEF: fputs("#<undefined>", out); break;
    case T_SYM:
      if (!display && symbol_needs_bars(v.as.sym)) fprintf(out, "|%s|", v.as.sym->name);
      else fputs(v.as.sym->name, out);
      break;
    case T_STR:
      if (display) fwrite(v.as.str->data, 1, v.as.str->len, out);
      else write_string(out, v.as.str);
      break;
    case T_CLOSURE:
    case T_PRIM: {
      const char *name = proc_name(v);
      if (name) fprintf(out, "#<procedure %s>", name);
      else fputs("#<procedure>", out);
      break;
    }
    case T_OBJREF: fprintf(out, "#<object %" PRIu64 ">", v.as.u); break;
    case T_TXREF: fprintf(out, "#<tx %" PRIu64 ">", v.as.u); break;
    case T_HANDLE: fprintf(out, "#<program %" PRIu64 ">", v.as.u); break;
    default: fputs("#<opaque>", out); break;
  }
}

typedef struct PFrame { Value rest; bool close_only; } PFrame;

static void print_value(FILE *out, Value v, bool display) {
  size_t cap = 32, n = 0;
  PFrame *st = malloc(cap * sizeof *st);
  if (!st) abort();
  for (;;) {
    /* Descend into v. */
    if (v.tag == T_PAIR || v.tag == T_JUST) {
      if (n == cap) {
        cap *= 2;
        PFrame *ns = realloc(st, cap * sizeof *st);
        if (!ns) abort();
        st = ns;
      }
      if (v.tag == T_PAIR) {
        fputc('(', out);
        st[n++] = (PFrame){ v.as.pair->cdr, false };
        v = v.as.pair->car;
      } else {
        fputs("(just ", out);
        st[n++] = (PFrame){ v_nil(), true };
        v = v.as.just->v;
      }
      continue;
    }
    print_atom(out, v, display);
    /* Climb until there is a next element to print. */
    for (;;) {
      if (n == 0) { free(st); return; }
      PFrame *top = &st[n - 1];
      if (top->close_only || top->rest.tag == T_NIL) {
        fputc(')', out);
        n--;
        continue;
      }
      if (top->rest.tag == T_PAIR) {
        fputc(' ', out);
        v = top->rest.as.pair->car;
        top->rest = top->rest.as.pair->cdr;
      } else {
        fputs(" . ", out);
        v = top->rest;
        top->close_only = true;
      }
      break;
    }
  }
}

void v_write(FILE *out, Value v) { print_value(out, v, false); }
void v_display(FILE *out, Value v) { print_value(out, v, true); }

char *v_write_to_string(Value v, bool display) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) abort();
  print_value(f, v, display);
  fclose(f);
  char *s = GC_MALLOC_ATOMIC(len + 1);
  memcpy(s, buf, len + 1);
  free(buf);
  return s;
}
