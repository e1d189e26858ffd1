/* vm/value.h — the value representation shared by the compiler and the VM.
 * A Value is a 16-byte tagged union (Lua's TValue): integers are the full
 * signed 64-bit range and never allocate; everything that needs memory is a
 * Boehm-GC heap object pointed to from the payload. */
#ifndef AVM_VALUE_H
#define AVM_VALUE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "util/buf.h"
#include "util/symbol.h"

/* X(tag, name-for-messages) — one list for the tag enum and type names. */
#define VALUE_TAGS(X)                                   \
  X(NIL, "empty list")                                  \
  X(BOOL, "boolean")                                    \
  X(INT, "integer")                                     \
  X(UNSPEC, "unspecified")                              \
  X(NOTHING, "nothing")                                 \
  X(UNDEF, "undefined")   /* an unset global/letrec slot */ \
  X(SYM, "symbol")                                      \
  X(STR, "string")                                      \
  X(PAIR, "pair")                                       \
  X(JUST, "just")                                       \
  X(CLOSURE, "procedure")                               \
  X(PRIM, "procedure")    /* u = index in prims.def */  \
  X(OBJREF, "object id")                                \
  X(TXREF, "transaction id")                            \
  X(HANDLE, "program handle")                           \
  X(OPAQUE, "opaque value")

typedef enum Tag {
#define X(t, n) T_##t,
  VALUE_TAGS(X)
#undef X
  T__COUNT
} Tag;

typedef struct Pair Pair;
typedef struct String String;
typedef struct Just Just;
typedef struct Closure Closure;

typedef struct Value {
  uint64_t tag;   /* a full word: every Value store and load is two 8-byte moves,
                     so store-to-load forwarding works (see vm/interp.c) */
  union {
    int64_t i;
    uint64_t u;
    bool b;
    void *p;
    Symbol *sym;
    String *str;
    Pair *pair;
    Just *just;
    Closure *clo;
  } as;
} Value;

struct Pair { Value car, cdr; };
struct Just { Value v; };
struct String {
  size_t len;      /* bytes */
  size_t nchars;   /* code points */
  char data[];     /* NUL-terminated UTF-8 */
};

/* Constructors (inline so integer paths allocate nothing). */
static inline Value v_int(int64_t i) { Value v; v.tag = T_INT; v.as.i = i; return v; }
static inline Value v_bool(bool b) { Value v; v.tag = T_BOOL; v.as.u = 0; v.as.b = b; return v; }
static inline Value v_nil(void) { Value v; v.tag = T_NIL; v.as.u = 0; return v; }
static inline Value v_unspec(void) { Value v; v.tag = T_UNSPEC; v.as.u = 0; return v; }
static inline Value v_nothing(void) { Value v; v.tag = T_NOTHING; v.as.u = 0; return v; }
static inline Value v_undef(void) { Value v; v.tag = T_UNDEF; v.as.u = 0; return v; }
static inline Value v_sym(Symbol *s) { Value v; v.tag = T_SYM; v.as.sym = s; return v; }
static inline Value v_tagged(Tag t, void *p) { Value v; v.tag = t; v.as.p = p; return v; }
static inline Value v_prim(unsigned idx) { Value v; v.tag = T_PRIM; v.as.u = idx; return v; }
static inline Value v_ref(Tag t, uint64_t id) { Value v; v.tag = t; v.as.u = id; return v; }

/* Copies a value as two word moves.  A plain struct assignment compiles to
 * one 16-byte move, whose load cannot be forwarded from the two 8-byte
 * stores that usually wrote the source: a stall of a dozen cycles on every
 * register move in the VM. */
static inline void v_copy(Value *dst, const Value *src) {
  uint64_t t = src->tag, u = src->as.u;
  dst->tag = t;
  dst->as.u = u;
}

/* A just keeps its value in place: the low byte of the tag marks it as a
 * just, the bytes above hold the tag of the value inside, and the payload
 * is that value's.  So (just x) allocates nothing (a call answers one
 * every time).  Justs nest in place up to 7 deep; deeper ones are boxed:
 * tag T_JUST, a heap Just. */
#define JUST_MARK 0xFFu
static inline bool v_is_just(Value v) { return (v.tag & 0xFF) == JUST_MARK || v.tag == T_JUST; }
static inline Value v_from_just(Value v) {
  if (v.tag == T_JUST) return v.as.just->v;
  Value r;
  r.tag = v.tag >> 8;
  r.as.u = v.as.u;
  return r;
}

static inline bool v_truthy(Value v) { return !(v.tag == T_BOOL && !v.as.b); }
static inline bool v_is_proc(Value v) { return v.tag == T_CLOSURE || v.tag == T_PRIM; }
/* eq?: identity; integers, booleans, symbols and ids compare by payload. */
static inline bool v_eq(Value a, Value b) { return a.tag == b.tag && a.as.u == b.as.u; }

/* Doubles a GC-allocated array of [n] elements of [elem] bytes when it is
 * full (n == *cap), starting at [initial]; gives the array to use. */
void *gc_grow(void *array, size_t n, size_t *cap, size_t elem, size_t initial);

/* Small objects made by the million (pairs, justs, list blocks, closures,
 * objects) come from free lists, one per size in granules, that
 * GC_malloc_many fills a block at a time: a few instructions per object
 * instead of a trip through the collector's allocator each.  The lists
 * are the collector's business too (vm/value.c says how it keeps their
 * objects).  Objects come uncleared: the caller writes every field. */
#define GC_GRANULE 16
#define GC_SMALL_GRANULES 16
extern void *gc_small_lists[GC_SMALL_GRANULES + 1];
/* Refills the list of [bytes]' size and takes one; larger objects are
 * allocated the usual way. */
void *gc_alloc_slow(size_t bytes);
static inline void *gc_alloc_small(size_t bytes) {
  size_t g = (bytes + GC_GRANULE - 1) / GC_GRANULE;
  void *p = g <= GC_SMALL_GRANULES ? gc_small_lists[g] : NULL;
  if (__builtin_expect(p == NULL, 0)) return gc_alloc_slow(bytes);
  gc_small_lists[g] = *(void **)p;
  *(void **)p = NULL;
  return p;
}

Value v_cons(Value car, Value cdr);
/* (items[0] ... items[n-1] . tail) */
Value v_list_n(const Value *items, size_t n, Value tail);
Value v_just_boxed(Value v);
/* (just v): in place, unless v is already nested 7 deep (see JUST_MARK). */
static inline Value v_just(Value x) {
  if (x.tag >> 56 != 0) return v_just_boxed(x);
  Value v;
  v.tag = x.tag << 8 | JUST_MARK;
  v.as.u = x.as.u;
  return v;
}
Value v_string(const char *bytes, size_t len);   /* copies; counts code points */
Value v_cstring(const char *s);
bool v_equal(Value a, Value b);                  /* equal?: structural, no C recursion */
bool v_is_list(Value v);
/* Length of a proper list, or -1. */
int64_t v_list_length(Value v);
const char *v_type_name(Value v);
/* Lists known to hold no procedure, by address (vm/value.c): a program
 * sends the same constant message again and again, and a state grows by
 * consing onto one already checked.  Pairs are immutable, so what was
 * found stays true. */
#define V_PROC_FREE_SLOTS 64
extern const Pair *v_proc_free[V_PROC_FREE_SLOTS];
static inline const Pair **v_proc_free_slot(const Pair *p) {
  return &v_proc_free[((uintptr_t)p >> 5) % V_PROC_FREE_SLOTS];
}
/* True if [v] holds a procedure anywhere inside (messages may not).
 * Atoms, most of what calls carry, and known lists are answered inline. */
bool v_contains_proc_walk(Value v);
static inline bool v_contains_proc(Value v) {
  if (v.tag == T_PAIR) return *v_proc_free_slot(v.as.pair) != v.as.pair && v_contains_proc_walk(v);
  if (!v_is_just(v)) return v_is_proc(v);
  return v_contains_proc_walk(v);
}

/* Printing (vm/print.c).  write: machine-readable; display: strings raw. */
void v_print(Buf *out, Value v, bool display);
/* The tagged JSON encoding of a value (the reference's Val, and ours). */
void v_print_json(Buf *out, Value v);
/* The same, with procedures and undefined slots written by [procs] (a
 * continuation on the wire, net/continuation.c) instead of as
 * {"Procedure": name} and "Opaque". */
typedef struct JsonProcs {
  void (*write)(void *ctx, Buf *out, Value proc);
  void *ctx;
} JsonProcs;
void v_print_json_with(Buf *out, Value v, const JsonProcs *procs);
void v_write(FILE *out, Value v);
void v_display(FILE *out, Value v);
/* Appends the printed form to a malloc'd buffer; returns a GC string. */
char *v_write_to_string(Value v, bool display);

#endif
