/* vm/value.c — heap values: construction, equal?, list helpers.  Every
 * heap value is a Boehm-GC block; strings hold no pointers and use the
 * atomic allocator. */
#include "vm/value.h"
#include <gc.h>
#include <gc/gc_inline.h>
#include <gc/gc_mark.h>
#include <stdlib.h>
#include <string.h>

void *gc_grow(void *array, size_t n, size_t *cap, size_t elem, size_t initial) {
  if (n < *cap) return array;
  size_t ncap = *cap ? *cap * 2 : initial;
  void *na = GC_MALLOC(ncap * elem);
  if (!na) abort();
  if (n) memcpy(na, array, n * elem);
  *cap = ncap;
  return na;
}

void *gc_small_lists[GC_SMALL_GRANULES + 1];

/* The lists' objects come from a kind of our own that the collector does
 * not clear: clearing every block it hands out was a tenth of the time of
 * programs that make short-lived pairs by the million, and every object
 * taken from the lists is written whole at once.  What an object waiting
 * in a list still holds from its last life must not keep anything alive,
 * so the lists are no root: each collection marks the waiting objects
 * themselves, without scanning them. */
static int small_kind = -1;
static GC_push_other_roots_proc push_before;

static void keep_waiting_objects(void) {
  for (size_t g = 1; g <= GC_SMALL_GRANULES; g++)
    for (void *q = gc_small_lists[g]; q; q = GC_NEXT(q)) GC_set_mark_bit(q);
  if (push_before) push_before();
}

static void small_kind_init(void) {
  small_kind = (int)GC_new_kind(GC_new_free_list(), GC_DS_LENGTH, 1, 0);
  GC_exclude_static_roots(gc_small_lists, gc_small_lists + GC_SMALL_GRANULES + 1);
  push_before = GC_get_push_other_roots();
  GC_set_push_other_roots(keep_waiting_objects);
}

void *gc_alloc_slow(size_t bytes) {
  size_t granules = (bytes + GC_GRANULE - 1) / GC_GRANULE;
  if (granules > GC_SMALL_GRANULES) {
    void *big = GC_MALLOC(bytes);
    if (!big) abort();
    return big;
  }
  if (small_kind < 0) small_kind_init();
  void *p = NULL;
  GC_generic_malloc_many(granules * GC_GRANULE, small_kind, &p);
  if (!p) abort();
  gc_small_lists[granules] = GC_NEXT(p);
  GC_NEXT(p) = NULL;
  return p;
}

Value v_cons(Value car, Value cdr) {
  Pair *p = gc_alloc_small(sizeof *p);
  p->car = car;
  p->cdr = cdr;
  return v_tagged(T_PAIR, p);
}

/* The pairs of a list built at once (list, rest arguments) share GC
 * blocks of up to LIST_CHUNK pairs: a pair costs 32 bytes and a block one
 * granule more (the collector's extra byte), instead of 48 bytes each.
 * Pointers into a block keep it whole alive; bounding blocks bounds what a
 * surviving tail keeps. */
#define LIST_CHUNK 8

Value v_list_n(const Value *items, size_t n, Value tail) {
  while (n > 0) {
    size_t k = n < LIST_CHUNK ? n : LIST_CHUNK;
    if (k == 1) return v_cons(items[0], tail);
    Pair *block = gc_alloc_small(k * sizeof *block);
    n -= k;
    for (size_t j = k; j-- > 0;) {
      v_copy(&block[j].car, &items[n + j]);  /* items are registers, written just before */
      block[j].cdr = tail;
      tail = v_tagged(T_PAIR, &block[j]);
    }
  }
  return tail;
}

Value v_just_boxed(Value x) {
  Just *j = gc_alloc_small(sizeof *j);
  j->v = x;
  return v_tagged(T_JUST, j);
}

static size_t count_code_points(const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
  return n;
}

Value v_string(const char *bytes, size_t len) {
  String *s = GC_MALLOC_ATOMIC(sizeof *s + len + 1);
  s->len = len;
  memcpy(s->data, bytes, len);
  s->data[len] = '\0';
  s->nchars = count_code_points(bytes, len);
  return v_tagged(T_STR, s);
}

Value v_cstring(const char *s) { return v_string(s, strlen(s)); }

const char *v_type_name(Value v) {
  static const char *names[] = {
#define X(t, n) n,
    VALUE_TAGS(X)
#undef X
  };
  if (v_is_just(v)) return "just";
  return v.tag < T__COUNT ? names[v.tag] : "?";
}

int64_t v_list_length(Value v) {
  int64_t n = 0;
  while (v.tag == T_PAIR) { n++; v = v.as.pair->cdr; }
  return v.tag == T_NIL ? n : -1;
}

bool v_is_list(Value v) { return v_list_length(v) >= 0; }

/* Shallow comparison for values that are not containers. */
static bool atom_equal(Value a, Value b) {
  if (a.tag != b.tag) return false;
  if (a.tag == T_STR)
    return a.as.str->len == b.as.str->len &&
           memcmp(a.as.str->data, b.as.str->data, a.as.str->len) == 0;
  return a.as.u == b.as.u;
}

/* equal? walks both values with an explicit work list, so a list nested a
 * million deep in its cars compares without C recursion. */
bool v_equal(Value a, Value b) {
  if (a.tag != T_PAIR && !v_is_just(a)) return atom_equal(a, b);
  Value local[64], *work = local;
  size_t cap = 32, n = 0;  /* pairs of values */
  bool eq = true;
  for (;;) {
    if (a.tag == T_PAIR && b.tag == T_PAIR) {
      if (a.as.pair != b.as.pair) {
        if (n == cap) {
          Value *nw = malloc(cap * 4 * sizeof *nw);
          if (!nw) abort();
          memcpy(nw, work, n * 2 * sizeof *nw);
          if (work != local) free(work);
          work = nw;
          cap *= 2;
        }
        work[2 * n] = a.as.pair->cdr;
        work[2 * n + 1] = b.as.pair->cdr;
        n++;
        a = a.as.pair->car;
        b = b.as.pair->car;
        continue;
      }
    } else if (v_is_just(a) && v_is_just(b)) {
      a = v_from_just(a);
      b = v_from_just(b);
      continue;
    } else if (!atom_equal(a, b)) {
      eq = false;
      break;
    }
    if (n == 0) break;
    n--;
    a = work[2 * n];
    b = work[2 * n + 1];
  }
  if (work != local) free(work);
  return eq;
}

/* The table is static, a root of the collector: a pair in it is not
 * freed, so its address is not reused for another meanwhile. */
const Pair *v_proc_free[V_PROC_FREE_SLOTS];

static inline bool known_proc_free(Value v) { return v.tag == T_PAIR && *v_proc_free_slot(v.as.pair) == v.as.pair; }

/* The shapes of nearly every message and state, a list of atoms or of
 * lists of atoms, in one pass without a work list: 1 if a procedure is
 * there, 0 if none, -1 if [v] holds deeper structure (or justs). */
static int shallow_procs(Value v) {
  /* Along the spine, a tail already known (a state grown by consing onto
   * a checked one) ends the pass. */
  for (; v.tag == T_PAIR; v = v.as.pair->cdr) {
    if (known_proc_free(v)) return 0;
    Value x = v.as.pair->car;
    if (x.tag == T_PAIR) {
      if (known_proc_free(x)) continue;
      for (; x.tag == T_PAIR; x = x.as.pair->cdr) {
        Value y = x.as.pair->car;
        if (y.tag == T_PAIR || v_is_just(y)) return -1;
        if (v_is_proc(y)) return 1;
      }
    }
    if (v_is_just(x)) return -1;
    if (v_is_proc(x)) return 1;
  }
  if (v_is_just(v)) return -1;
  return v_is_proc(v);
}

/* Any structure, with a work list (on the C stack while it is small). */
static bool deep_procs(Value v) {
  Value local[32], *work = local;
  size_t cap = 32, n = 0;
  bool found = false;
  for (;;) {
    if (v_is_proc(v)) { found = true; break; }
    /* Along a list, atoms are checked in place: only nested structure
     * goes on the work list. */
    while (v.tag == T_PAIR && v.as.pair->car.tag != T_PAIR && !v_is_just(v.as.pair->car) && !known_proc_free(v)) {
      if (v_is_proc(v.as.pair->car)) { found = true; goto done; }
      v = v.as.pair->cdr;
    }
    if (v_is_proc(v)) { found = true; break; }
    if (v.tag == T_PAIR && !known_proc_free(v)) {
      if (n == cap) {
        Value *nw = malloc(cap * 2 * sizeof *nw);
        if (!nw) abort();
        memcpy(nw, work, n * sizeof *nw);
        if (work != local) free(work);
        work = nw;
        cap *= 2;
      }
      work[n++] = v.as.pair->cdr;
      v = v.as.pair->car;
      continue;
    }
    if (v_is_just(v)) { v = v_from_just(v); continue; }
    if (n == 0) break;
    v = work[--n];
  }
done:
  if (work != local) free(work);
  return found;
}

/* Tags of values that are neither containers nor procedures. */
#define PLAIN_ATOMS (((1u << T__COUNT) - 1) & ~(1u << T_PAIR | 1u << T_JUST | 1u << T_CLOSURE | 1u << T_PRIM))
_Static_assert(T__COUNT <= 32, "the plain atoms are a 32-bit mask");
static inline bool plain_atom(uint64_t tag) { return tag < T__COUNT && (PLAIN_ATOMS >> tag & 1); }

bool v_contains_proc_walk(Value v) {
  /* Most messages and new state entries start with a few plain atoms, or
   * are just that: those are passed at once, the rest is looked into. */
  Value rest = v;
  for (int n = 0; n < 8 && rest.tag == T_PAIR && plain_atom(rest.as.pair->car.tag); n++) rest = rest.as.pair->cdr;
  int shallow = rest.tag == T_NIL ? 0 : shallow_procs(rest);
  bool found = shallow >= 0 ? shallow : deep_procs(rest);
  if (!found && v.tag == T_PAIR) *v_proc_free_slot(v.as.pair) = v.as.pair;
  return found;
}
