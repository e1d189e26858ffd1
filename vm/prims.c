/* vm/prims.c — the C primitives of vm/prims.def: arithmetic with overflow
 * detection, lists (iterative, so any length works), strings (UTF-8, counted
 * in code points), predicates, printing, errors. */
#include <errno.h>
#include <gc.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "vm/vm.h"

#define PRIMFN(name) static bool prim_##name(Fiber *f, Value *args, int argc, Value *out)
#define EXPECT(cond, who, what, v) do { if (!(cond)) return vm_type_error(f, who, what, v); } while (0)
#define EXPECT_INT(who, v) EXPECT((v).tag == T_INT, who, "integer", v)

/* {===== Arithmetic =====} */

static bool overflow(Fiber *f, const char *who) { return vm_raise(f, v_nil(), "%s: integer overflow", who); }

PRIMFN(add) {
  int64_t acc = 0;
  for (int j = 0; j < argc; j++) {
    EXPECT_INT("+", args[j]);
    if (__builtin_add_overflow(acc, args[j].as.i, &acc)) return overflow(f, "+");
  }
  *out = v_int(acc);
  return true;
}

PRIMFN(mul) {
  int64_t acc = 1;
  for (int j = 0; j < argc; j++) {
    EXPECT_INT("*", args[j]);
    if (__builtin_mul_overflow(acc, args[j].as.i, &acc)) return overflow(f, "*");
  }
  *out = v_int(acc);
  return true;
}

PRIMFN(sub) {
  EXPECT_INT("-", args[0]);
  int64_t acc = args[0].as.i;
  if (argc == 1) {
    if (__builtin_sub_overflow((int64_t)0, acc, &acc)) return overflow(f, "-");
  }
  for (int j = 1; j < argc; j++) {
    EXPECT_INT("-", args[j]);
    if (__builtin_sub_overflow(acc, args[j].as.i, &acc)) return overflow(f, "-");
  }
  *out = v_int(acc);
  return true;
}

static bool two_ints(Fiber *f, const char *who, Value *args) {
  EXPECT_INT(who, args[0]);
  EXPECT_INT(who, args[1]);
  return true;
}

static bool divide(Fiber *f, const char *who, Value *args, int64_t *q, int64_t *r) {
  if (!two_ints(f, who, args)) return false;
  int64_t a = args[0].as.i, b = args[1].as.i;
  if (b == 0) return vm_raise(f, v_nil(), "%s: division by zero", who);
  if (a == INT64_MIN && b == -1) {
    *r = 0;
    return q ? overflow(f, who) : true;
  }
  if (q) *q = a / b;
  *r = a % b;
  return true;
}

PRIMFN(quotient) {
  int64_t q = 0, r = 0;
  if (!divide(f, "quotient", args, &q, &r)) return false;
  *out = v_int(q);
  return true;
}

PRIMFN(remainder) {
  int64_t r = 0;
  if (!divide(f, "remainder", args, NULL, &r)) return false;
  *out = v_int(r);
  return true;
}

PRIMFN(modulo) {
  int64_t r = 0;
  if (!divide(f, "modulo", args, NULL, &r)) return false;
  if (r != 0 && ((r < 0) != (args[1].as.i < 0))) r += args[1].as.i;
  *out = v_int(r);
  return true;
}

PRIMFN(abs) {
  EXPECT_INT("abs", args[0]);
  if (args[0].as.i == INT64_MIN) return overflow(f, "abs");
  *out = v_int(args[0].as.i < 0 ? -args[0].as.i : args[0].as.i);
  return true;
}

static bool extremum(Fiber *f, const char *who, Value *args, int argc, Value *out, bool want_max) {
  EXPECT_INT(who, args[0]);
  int64_t best = args[0].as.i;
  for (int j = 1; j < argc; j++) {
    EXPECT_INT(who, args[j]);
    if (want_max ? args[j].as.i > best : args[j].as.i < best) best = args[j].as.i;
  }
  *out = v_int(best);
  return true;
}
PRIMFN(min) { return extremum(f, "min", args, argc, out, false); }
PRIMFN(max) { return extremum(f, "max", args, argc, out, true); }

typedef enum { CMP_EQ, CMP_LT, CMP_GT, CMP_LE, CMP_GE } Cmp;

static bool compare_chain(Fiber *f, const char *who, Cmp cmp, Value *args, int argc, Value *out) {
  bool ok = true;
  for (int j = 0; j < argc; j++) EXPECT_INT(who, args[j]);
  for (int j = 0; j + 1 < argc && ok; j++) {
    int64_t a = args[j].as.i, b = args[j + 1].as.i;
    switch (cmp) {
      case CMP_EQ: ok = a == b; break;
      case CMP_LT: ok = a < b; break;
      case CMP_GT: ok = a > b; break;
      case CMP_LE: ok = a <= b; break;
      case CMP_GE: ok = a >= b; break;
    }
  }
  *out = v_bool(ok);
  return true;
}
PRIMFN(numeq) { return compare_chain(f, "=", CMP_EQ, args, argc, out); }
PRIMFN(lt) { return compare_chain(f, "<", CMP_LT, args, argc, out); }
PRIMFN(gt) { return compare_chain(f, ">", CMP_GT, args, argc, out); }
PRIMFN(le) { return compare_chain(f, "<=", CMP_LE, args, argc, out); }
PRIMFN(ge) { return compare_chain(f, ">=", CMP_GE, args, argc, out); }

#define INT_PREDICATE(name, who, expr)                  \
  PRIMFN(name) {                                        \
    EXPECT_INT(who, args[0]);                           \
    int64_t n = args[0].as.i;                           \
    *out = v_bool(expr);                                \
    return true;                                        \
  }
INT_PREDICATE(zerop, "zero?", n == 0)
INT_PREDICATE(positivep, "positive?", n > 0)
INT_PREDICATE(negativep, "negative?", n < 0)
INT_PREDICATE(evenp, "even?", n % 2 == 0)
INT_PREDICATE(oddp, "odd?", n % 2 != 0)

/* {===== Equivalence and predicates =====} */

PRIMFN(not) { *out = v_bool(!v_truthy(args[0])); return true; }
PRIMFN(eqp) { *out = v_bool(v_eq(args[0], args[1])); return true; }
PRIMFN(eqvp) { *out = v_bool(v_eq(args[0], args[1])); return true; }
PRIMFN(equalp) { *out = v_bool(v_equal(args[0], args[1])); return true; }

#define TAG_PREDICATE(name, cond) \
  PRIMFN(name) { Value v = args[0]; *out = v_bool(cond); return true; }
TAG_PREDICATE(nullp, v.tag == T_NIL)
TAG_PREDICATE(pairp, v.tag == T_PAIR)
TAG_PREDICATE(listp, v_is_list(v))
TAG_PREDICATE(numberp, v.tag == T_INT)
TAG_PREDICATE(integerp, v.tag == T_INT)
TAG_PREDICATE(stringp, v.tag == T_STR)
TAG_PREDICATE(symbolp, v.tag == T_SYM)
TAG_PREDICATE(booleanp, v.tag == T_BOOL)
TAG_PREDICATE(procedurep, v_is_proc(v))
TAG_PREDICATE(justp, v_is_just(v))
TAG_PREDICATE(nothingp, v.tag == T_NOTHING)

PRIMFN(just) { *out = v_just(args[0]); return true; }
PRIMFN(from_just) {
  EXPECT(v_is_just(args[0]), "from-just", "just", args[0]);
  *out = v_from_just(args[0]);
  return true;
}

/* {===== Pairs and lists =====} */

PRIMFN(cons) { *out = v_cons(args[0], args[1]); return true; }

/* c[ad]+r: [path] is applied from its last letter to its first. */
static bool cxr(Fiber *f, const char *who, const char *path, Value v, Value *out) {
  for (int j = (int)strlen(path) - 1; j >= 0; j--) {
    EXPECT(v.tag == T_PAIR, who, "pair", v);
    v = path[j] == 'a' ? v.as.pair->car : v.as.pair->cdr;
  }
  *out = v;
  return true;
}
PRIMFN(car) { return cxr(f, "car", "a", args[0], out); }
PRIMFN(cdr) { return cxr(f, "cdr", "d", args[0], out); }
PRIMFN(caar) { return cxr(f, "caar", "aa", args[0], out); }
PRIMFN(cadr) { return cxr(f, "cadr", "ad", args[0], out); }
PRIMFN(cdar) { return cxr(f, "cdar", "da", args[0], out); }
PRIMFN(cddr) { return cxr(f, "cddr", "dd", args[0], out); }
PRIMFN(caddr) { return cxr(f, "caddr", "add", args[0], out); }

PRIMFN(list) { *out = v_list_n(args, (size_t)argc, v_nil()); return true; }

PRIMFN(length) {
  int64_t n = v_list_length(args[0]);
  EXPECT(n >= 0, "length", "list", args[0]);
  *out = v_int(n);
  return true;
}

/* A list builder that appends at the tail without recursion. */
typedef struct ListBuilder { Value head; Pair *last; } ListBuilder;
static void lb_init(ListBuilder *lb) { lb->head = v_nil(); lb->last = NULL; }
static void lb_push(ListBuilder *lb, Value v) {
  Value cell = v_cons(v, v_nil());
  if (lb->last) lb->last->cdr = cell;
  else lb->head = cell;
  lb->last = cell.as.pair;
}
static Value lb_finish(ListBuilder *lb, Value tail) {
  if (!lb->last) return tail;
  lb->last->cdr = tail;
  return lb->head;
}

PRIMFN(append) {
  if (argc == 0) { *out = v_nil(); return true; }
  ListBuilder lb;
  lb_init(&lb);
  for (int j = 0; j < argc - 1; j++) {
    EXPECT(v_is_list(args[j]), "append", "list", args[j]);
    for (Value l = args[j]; l.tag == T_PAIR; l = l.as.pair->cdr) lb_push(&lb, l.as.pair->car);
  }
  *out = lb_finish(&lb, args[argc - 1]);
  return true;
}

PRIMFN(reverse) {
  EXPECT(v_is_list(args[0]), "reverse", "list", args[0]);
  Value r = v_nil();
  for (Value l = args[0]; l.tag == T_PAIR; l = l.as.pair->cdr) r = v_cons(l.as.pair->car, r);
  *out = r;
  return true;
}

static bool list_walk(Fiber *f, const char *who, Value *args, bool need_pair, Value *out) {
  EXPECT_INT(who, args[1]);
  EXPECT(args[1].as.i >= 0, who, "non-negative integer", args[1]);
  Value l = args[0];
  for (int64_t n = args[1].as.i; n > 0; n--) {
    if (l.tag != T_PAIR) return vm_raise(f, v_nil(), "%s: index out of range: %" PRId64, who, args[1].as.i);
    l = l.as.pair->cdr;
  }
  if (need_pair) {
    if (l.tag != T_PAIR) return vm_raise(f, v_nil(), "%s: index out of range: %" PRId64, who, args[1].as.i);
    l = l.as.pair->car;
  }
  *out = l;
  return true;
}
PRIMFN(list_ref) { return list_walk(f, "list-ref", args, true, out); }
PRIMFN(list_tail) { return list_walk(f, "list-tail", args, false, out); }

PRIMFN(last_pair) {
  EXPECT(args[0].tag == T_PAIR, "last-pair", "pair", args[0]);
  Value l = args[0];
  while (l.as.pair->cdr.tag == T_PAIR) l = l.as.pair->cdr;
  *out = l;
  return true;
}

static bool assoc_in(Fiber *f, const char *who, Value key, Value l, bool deep, Value *out) {
  for (; l.tag == T_PAIR; l = l.as.pair->cdr) {
    Value e = l.as.pair->car;
    EXPECT(e.tag == T_PAIR, who, "pair", e);
    if (deep ? v_equal(e.as.pair->car, key) : v_eq(e.as.pair->car, key)) { *out = e; return true; }
  }
  EXPECT(l.tag == T_NIL, who, "list", l);
  *out = v_bool(false);
  return true;
}
PRIMFN(assoc) { return assoc_in(f, "assoc", args[0], args[1], true, out); }
PRIMFN(assq) { return assoc_in(f, "assq", args[0], args[1], false, out); }

static bool member_in(Fiber *f, const char *who, Value x, Value l, bool deep, Value *out) {
  for (; l.tag == T_PAIR; l = l.as.pair->cdr)
    if (deep ? v_equal(l.as.pair->car, x) : v_eq(l.as.pair->car, x)) { *out = l; return true; }
  EXPECT(l.tag == T_NIL, who, "list", l);
  *out = v_bool(false);
  return true;
}
PRIMFN(member) { return member_in(f, "member", args[0], args[1], true, out); }
PRIMFN(memq) { return member_in(f, "memq", args[0], args[1], false, out); }

/* {===== Strings and symbols =====} */

/* Byte offset of code point [cp] in [s] (s->len if past the end). */
static size_t utf8_offset(const String *s, size_t cp) {
  if (s->nchars == s->len) return cp < s->len ? cp : s->len;
  size_t i = 0;
  while (i < s->len && cp > 0) {
    i++;
    while (i < s->len && ((unsigned char)s->data[i] & 0xC0) == 0x80) i++;
    cp--;
  }
  return i;
}

PRIMFN(string_append) {
  size_t total = 0;
  for (int j = 0; j < argc; j++) {
    EXPECT(args[j].tag == T_STR, "string-append", "string", args[j]);
    total += args[j].as.str->len;
  }
  String *s = GC_MALLOC_ATOMIC(sizeof *s + total + 1);
  size_t at = 0, chars = 0;
  for (int j = 0; j < argc; j++) {
    memcpy(s->data + at, args[j].as.str->data, args[j].as.str->len);
    at += args[j].as.str->len;
    chars += args[j].as.str->nchars;
  }
  s->data[total] = '\0';
  s->len = total;
  s->nchars = chars;
  *out = v_tagged(T_STR, s);
  return true;
}

PRIMFN(string_length) {
  EXPECT(args[0].tag == T_STR, "string-length", "string", args[0]);
  *out = v_int((int64_t)args[0].as.str->nchars);
  return true;
}

PRIMFN(substring) {
  EXPECT(args[0].tag == T_STR, "substring", "string", args[0]);
  const String *s = args[0].as.str;
  EXPECT_INT("substring", args[1]);
  int64_t start = args[1].as.i, end = (int64_t)s->nchars;
  if (argc == 3) {
    EXPECT_INT("substring", args[2]);
    end = args[2].as.i;
  }
  if (start < 0 || end < start || end > (int64_t)s->nchars)
    return vm_raise(f, v_nil(), "substring: index out of range: %" PRId64 " %" PRId64, start, end);
  size_t b0 = utf8_offset(s, (size_t)start), b1 = utf8_offset(s, (size_t)end);
  *out = v_string(s->data + b0, b1 - b0);
  return true;
}

static bool string_compare(Fiber *f, const char *who, Value *args, int argc, Value *out, bool less) {
  for (int j = 0; j < argc; j++) EXPECT(args[j].tag == T_STR, who, "string", args[j]);
  bool ok = true;
  for (int j = 0; j + 1 < argc && ok; j++) {
    const String *a = args[j].as.str, *b = args[j + 1].as.str;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->data, b->data, n);
    if (c == 0) c = (a->len > b->len) - (a->len < b->len);
    ok = less ? c < 0 : c == 0;
  }
  *out = v_bool(ok);
  return true;
}
PRIMFN(string_eq) { return string_compare(f, "string=?", args, argc, out, false); }
PRIMFN(string_lt) { return string_compare(f, "string<?", args, argc, out, true); }

static bool radix_arg(Fiber *f, const char *who, Value *args, int argc, int *radix) {
  *radix = 10;
  if (argc < 2) return true;
  EXPECT_INT(who, args[1]);
  int64_t r = args[1].as.i;
  if (r != 2 && r != 8 && r != 10 && r != 16)
    return vm_raise(f, v_nil(), "%s: unsupported radix %" PRId64, who, r);
  *radix = (int)r;
  return true;
}

PRIMFN(number_to_string) {
  EXPECT_INT("number->string", args[0]);
  int radix;
  if (!radix_arg(f, "number->string", args, argc, &radix)) return false;
  char buf[80], *p = buf + sizeof buf;
  int64_t n = args[0].as.i;
  uint64_t u = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;
  *--p = '\0';
  do {
    *--p = "0123456789abcdef"[u % (unsigned)radix];
    u /= (unsigned)radix;
  } while (u);
  if (n < 0) *--p = '-';
  *out = v_cstring(p);
  return true;
}

PRIMFN(string_to_number) {
  EXPECT(args[0].tag == T_STR, "string->number", "string", args[0]);
  int radix;
  if (!radix_arg(f, "string->number", args, argc, &radix)) return false;
  const char *s = args[0].as.str->data;
  size_t len = args[0].as.str->len;
  *out = v_bool(false);
  if (len == 0 || len != strlen(s)) return true;
  const char *digits = s;
  if (*digits == '-' || *digits == '+') digits++;
  if (!*digits) return true;
  for (const char *c = digits; *c; c++) {
    int d = (*c >= '0' && *c <= '9') ? *c - '0'
          : (*c >= 'a' && *c <= 'f') ? *c - 'a' + 10
          : (*c >= 'A' && *c <= 'F') ? *c - 'A' + 10 : 99;
    if (d >= radix) return true;
  }
  errno = 0;
  char *end;
  long long v = strtoll(s, &end, radix);
  if (errno == ERANGE || *end) return true;
  *out = v_int(v);
  return true;
}

PRIMFN(string_to_symbol) {
  EXPECT(args[0].tag == T_STR, "string->symbol", "string", args[0]);
  *out = v_sym(sym_intern(args[0].as.str->data, args[0].as.str->len));
  return true;
}

PRIMFN(symbol_to_string) {
  EXPECT(args[0].tag == T_SYM, "symbol->string", "symbol", args[0]);
  *out = v_string(args[0].as.sym->name, args[0].as.sym->len);
  return true;
}

/* {===== Output, errors, process =====} */

PRIMFN(display) { v_display(f->vm->out, args[0]); *out = v_unspec(); return true; }
PRIMFN(write) { v_write(f->vm->out, args[0]); *out = v_unspec(); return true; }
PRIMFN(newline) { fputc('\n', f->vm->out); *out = v_unspec(); return true; }

PRIMFN(error) {
  Value irritants = v_list_n(args + 1, (size_t)(argc - 1), v_nil());
  if (args[0].tag == T_STR) return vm_raise(f, irritants, "%s", args[0].as.str->data);
  return vm_raise(f, irritants, "%s", v_write_to_string(args[0], true));
}

PRIMFN(match_fail) {
  return vm_raise(f, v_nil(), "match: no clause matches %s", v_write_to_string(args[0], false));
}

/* (%check-list WHO x) and (%check-proc WHO x): x, or the error the
 * prelude's list functions give for a bad argument.  Primitives, not
 * prelude functions, because map, any? and the others check their
 * arguments on every call. */
static bool check_arg(Fiber *f, Value *args, Value *out, bool ok, const char *expected) {
  if (ok) {
    *out = args[1];
    return true;
  }
  const char *who = args[0].tag == T_STR ? args[0].as.str->data : "?";
  return vm_raise(f, v_list_n(args + 1, 1, v_nil()), "%s: expected %s, got", who, expected);
}

#define X(id, test, expected) \
  PRIMFN(id) { return check_arg(f, args, out, test(args[1]), expected); }
ARG_CHECKS(X)
#undef X

PRIMFN(command_line) { *out = f->vm->command_line; return true; }

PRIMFN(exit) {
  int64_t code = 0;
  if (argc == 1) {
    if (args[0].tag == T_INT) code = args[0].as.i & 0xFF;
    else if (args[0].tag == T_BOOL) code = args[0].as.b ? 0 : 1;
  }
  f->vm->exit_requested = (int)code + 1;
  return vm_raise(f, v_nil(), "exit");
}

/* apply is spread by the call path (vm/interp.c); this entry is never run. */
PRIMFN(apply) { return vm_raise(f, v_nil(), "apply: internal error"); }

const PrimFn prim_fns[PRIM__COUNT] = {
#define PRIM(cname, name, mn, mx, fast, kind) prim_##cname,
#include "vm/prims.def"
#undef PRIM
};

void prims_install(VM *vm) {
  for (unsigned j = 0; j < PRIM__COUNT; j++) vm_define_global(vm, sym_intern_cstr(prim_info[j].name), v_prim(j));
  for (unsigned j = 0; j < IN__COUNT; j++)
    vm_define_global(vm, sym_intern_cstr(instr_info[j].name), v_prim(PRIM__COUNT + j));
  vm_define_global(vm, sym_intern_cstr("nothing"), v_nothing());
}

const char *proc_name(Value v) {
  if (v.tag == T_PRIM)
    return v.as.u < PRIM__COUNT ? prim_info[v.as.u].name
         : v.as.u < PROC_PRIM_COUNT ? instr_info[v.as.u - PRIM__COUNT].name : NULL;
  if (v.tag == T_CLOSURE && v.as.clo->p->name) return v.as.clo->p->name->name;
  return NULL;
}
