/* vm/print.c — the printer: write (machine-readable, the form avm run uses
 * for results) and display.  Lists are walked with an explicit stack, so
 * arbitrarily long or deeply nested data prints without C recursion.  All
 * printing goes into a Buf; the FILE functions flush it. */
#include <gc.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "vm/vm.h"

static void write_string(Buf *out, const String *s) {
  buf_putc(out, '"');
  for (size_t i = 0; i < s->len; i++) {
    unsigned char c = (unsigned char)s->data[i];
    switch (c) {
      case '"': buf_lit(out, "\\\""); break;
      case '\\': buf_lit(out, "\\\\"); break;
      case '\n': buf_lit(out, "\\n"); break;
      case '\t': buf_lit(out, "\\t"); break;
      default:
        if (c < 0x20 || c == 0x7f) buf_printf(out, "\\x%02X;", c);
        else buf_putc(out, (char)c);
    }
  }
  buf_putc(out, '"');
}

static void print_atom(Buf *out, Value v, bool display) {
  switch ((Tag)v.tag) {
    case T_NIL: buf_lit(out, "()"); break;
    case T_BOOL: buf_puts(out, v.as.b ? "#t" : "#f"); break;
    case T_INT: buf_i64(out, v.as.i); break;
    case T_UNSPEC: buf_lit(out, "#<unspecified>"); break;
    case T_NOTHING: buf_lit(out, "nothing"); break;
    case T_UNDEF: buf_lit(out, "#<undefined>"); break;
    case T_SYM: {
      Symbol *s = v.as.sym;
      bool bars = !display && s->needs_bars;
      if (bars) buf_putc(out, '|');
      buf_put(out, v.as.sym->name, v.as.sym->len);
      if (bars) buf_putc(out, '|');
      break;
    }
    case T_STR:
      if (display) buf_put(out, v.as.str->data, v.as.str->len);
      else write_string(out, v.as.str);
      break;
    case T_CLOSURE:
    case T_PRIM: {
      const char *name = proc_name(v);
      buf_lit(out, "#<procedure");
      if (name) {
        buf_putc(out, ' ');
        buf_puts(out, name);
      }
      buf_putc(out, '>');
      break;
    }
    case T_OBJREF: buf_lit(out, "#<object "); buf_u64(out, v.as.u); buf_putc(out, '>'); break;
    case T_TXREF: buf_lit(out, "#<tx "); buf_u64(out, v.as.u); buf_putc(out, '>'); break;
    case T_HANDLE: buf_lit(out, "#<program "); buf_u64(out, v.as.u); buf_putc(out, '>'); break;
    default: buf_lit(out, "#<opaque>"); break;
  }
}

typedef struct PFrame { Value rest; bool close_only; } PFrame;

/* The frames of the open lists; the first few live on the C stack, so
 * printing a short list allocates nothing. */
typedef struct PStack { PFrame *st; size_t n, cap; PFrame small[16]; } PStack;

static void push_frame(PStack *s, PFrame f) {
  if (s->n == s->cap) {
    size_t cap = s->cap * 2;
    PFrame *ns = s->st == s->small ? malloc(cap * sizeof *ns) : realloc(s->st, cap * sizeof *ns);
    if (!ns) abort();
    if (s->st == s->small) memcpy(ns, s->small, sizeof s->small);
    s->st = ns;
    s->cap = cap;
  }
  s->st[s->n++] = f;
}

void v_print(Buf *out, Value v, bool display) {
  PStack s;
  s.st = s.small;
  s.n = 0;
  s.cap = sizeof s.small / sizeof s.small[0];
  for (;;) {
    /* Descend into v. */
    if (v.tag == T_PAIR) {
      buf_putc(out, '(');
      push_frame(&s, (PFrame){ v.as.pair->cdr, false });
      v = v.as.pair->car;
      continue;
    }
    if (v_is_just(v)) {
      buf_lit(out, "(just ");
      push_frame(&s, (PFrame){ v_nil(), true });
      v = v_from_just(v);
      continue;
    }
    print_atom(out, v, display);
    /* Climb until there is a next element to print. */
    for (;;) {
      if (s.n == 0) {
        if (s.st != s.small) free(s.st);
        return;
      }
      PFrame *top = &s.st[s.n - 1];
      if (top->close_only || top->rest.tag == T_NIL) {
        buf_putc(out, ')');
        s.n--;
        continue;
      }
      if (top->rest.tag == T_PAIR) {
        buf_putc(out, ' ');
        v = top->rest.as.pair->car;
        top->rest = top->rest.as.pair->cdr;
      } else {
        buf_lit(out, " . ");
        v = top->rest;
        top->close_only = true;
      }
      break;
    }
  }
}

static void print_to_file(FILE *out, Value v, bool display) {
  Buf b = { 0 };
  v_print(&b, v, display);
  buf_flush(&b, out);
  buf_free(&b);
}

void v_write(FILE *out, Value v) { print_to_file(out, v, false); }
void v_display(FILE *out, Value v) { print_to_file(out, v, true); }

char *v_write_to_string(Value v, bool display) {
  Buf b = { 0 };
  v_print(&b, v, display);
  char *s = GC_MALLOC_ATOMIC(b.n + 1);
  memcpy(s, b.p, b.n);
  s[b.n] = '\0';
  buf_free(&b);
  return s;
}

/* {===== JSON =====}
 * The tagged encoding of the reference implementation's Val (docs/trace.md):
 * {"Nat":5} {"Bool":true} {"Str":"x"} {"List":[...]} {"Pair":[a,b]}
 * "Nothing" {"Just":v} {"ObjectRef":5} {"TxRef":0}, and for our other
 * values {"Int":-5} {"Sym":"x"} "Unit" {"Procedure":"f"|null} {"Program":1}. */

/* Work still to do: a value (text NULL), a literal, or (text == list_rest)
 * the tail of a proper list. */
typedef struct JTask { Value v; const char *text; } JTask;

static void tagged_u64(Buf *out, const char *tag, uint64_t n) {
  buf_puts(out, tag);
  buf_u64(out, n);
  buf_putc(out, '}');
}

static void json_atom(Buf *out, Value v) {
  switch ((Tag)v.tag) {
    case T_NIL: buf_lit(out, "{\"List\":[]}"); break;
    case T_BOOL: buf_puts(out, v.as.b ? "{\"Bool\":true}" : "{\"Bool\":false}"); break;
    case T_INT:
      if (v.as.i >= 0) {
        tagged_u64(out, "{\"Nat\":", (uint64_t)v.as.i);
      } else {
        buf_lit(out, "{\"Int\":");
        buf_i64(out, v.as.i);
        buf_putc(out, '}');
      }
      break;
    case T_NOTHING: buf_lit(out, "\"Nothing\""); break;
    case T_UNSPEC: buf_lit(out, "\"Unit\""); break;
    case T_SYM:
      buf_lit(out, "{\"Sym\":");
      buf_json_string(out, v.as.sym->name, v.as.sym->len);
      buf_putc(out, '}');
      break;
    case T_STR:
      buf_lit(out, "{\"Str\":");
      buf_json_string(out, v.as.str->data, v.as.str->len);
      buf_putc(out, '}');
      break;
    case T_CLOSURE:
    case T_PRIM: {
      const char *name = proc_name(v);
      buf_lit(out, "{\"Procedure\":");
      if (name) buf_json_string(out, name, strlen(name));
      else buf_lit(out, "null");
      buf_putc(out, '}');
      break;
    }
    case T_OBJREF: tagged_u64(out, "{\"ObjectRef\":", v.as.u); break;
    case T_TXREF: tagged_u64(out, "{\"TxRef\":", v.as.u); break;
    case T_HANDLE: tagged_u64(out, "{\"Program\":", v.as.u); break;
    default: buf_lit(out, "\"Opaque\""); break;
  }
}

static void push_task(JTask **st, size_t *n, size_t *cap, JTask t) {
  if (*n == *cap) {
    *cap *= 2;
    JTask *ns = realloc(*st, *cap * sizeof *ns);
    if (!ns) abort();
    *st = ns;
  }
  (*st)[(*n)++] = t;
}

void v_print_json(Buf *out, Value v) { v_print_json_with(out, v, NULL); }

void v_print_json_with(Buf *out, Value v, const JsonProcs *procs) {
  static const char list_rest[] = "";
  size_t cap = 16, n = 0;
  JTask *st = malloc(cap * sizeof *st);
  if (!st) abort();
  push_task(&st, &n, &cap, (JTask){ v, NULL });
  while (n) {
    JTask t = st[--n];
    if (t.text == list_rest) {  /* the rest of a proper list */
      if (t.v.tag == T_NIL) {
        buf_lit(out, "]}");
        continue;
      }
      buf_putc(out, ',');
      push_task(&st, &n, &cap, (JTask){ t.v.as.pair->cdr, list_rest });
      push_task(&st, &n, &cap, (JTask){ t.v.as.pair->car, NULL });
    } else if (t.text) {
      buf_puts(out, t.text);
    } else if (t.v.tag == T_PAIR && v_is_list(t.v)) {
      buf_lit(out, "{\"List\":[");
      push_task(&st, &n, &cap, (JTask){ t.v.as.pair->cdr, list_rest });
      push_task(&st, &n, &cap, (JTask){ t.v.as.pair->car, NULL });
    } else if (t.v.tag == T_PAIR) {
      buf_lit(out, "{\"Pair\":[");
      push_task(&st, &n, &cap, (JTask){ v_nil(), "]}" });
      push_task(&st, &n, &cap, (JTask){ t.v.as.pair->cdr, NULL });
      push_task(&st, &n, &cap, (JTask){ v_nil(), "," });
      push_task(&st, &n, &cap, (JTask){ t.v.as.pair->car, NULL });
    } else if (v_is_just(t.v)) {
      buf_lit(out, "{\"Just\":");
      push_task(&st, &n, &cap, (JTask){ v_nil(), "}" });
      push_task(&st, &n, &cap, (JTask){ v_from_just(t.v), NULL });
    } else if (procs && (v_is_proc(t.v) || t.v.tag == T_UNDEF)) {
      procs->write(procs->ctx, out, t.v);
    } else {
      json_atom(out, t.v);
    }
  }
  free(st);
}
