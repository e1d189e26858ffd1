/* runtime/store.c — the object store: a hash table from object id to
 * Object, with removals as tombstones.  Lookups, inserts and removals are
 * O(1), so a commit's cost does not depend on how many objects exist. */
#include <gc.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/runtime.h"

#define TOMBSTONE ((Object *)1)

static size_t slot_of(uint64_t id, size_t cap) {
  uint64_t h = id * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 32) & (cap - 1);
}

Object *store_get(const Store *s, uint64_t id) {
  if (!s->cap) return NULL;
  for (size_t j = slot_of(id, s->cap);; j = (j + 1) & (s->cap - 1)) {
    Object *o = s->slots[j];
    if (!o) return NULL;
    if (o != TOMBSTONE && o->id == id) return o;
  }
}

/* Rehashes into a table sized for the objects there are (at most a
 * quarter full), leaving the tombstones behind: a store through which
 * objects pass by the million stays the size of what it holds at once.
 * (It used to double at every refill, tombstones and all, and the
 * collector scanned the whole table at every collection.) */
static void grow(Store *s) {
  size_t cap = 64;
  while (s->count * 4 >= cap) cap *= 2;
  Object **old = s->slots;
  size_t oldcap = s->cap;
  s->slots = GC_MALLOC(cap * sizeof *s->slots);
  s->cap = cap;
  s->used = s->count;
  for (size_t j = 0; j < oldcap; j++) {
    Object *o = old[j];
    if (!o || o == TOMBSTONE) continue;
    size_t k = slot_of(o->id, cap);
    while (s->slots[k]) k = (k + 1) & (cap - 1);
    s->slots[k] = o;
  }
}

void store_put(Store *s, Object *o) {
  if ((s->used + 1) * 2 >= s->cap) grow(s);  /* at most half full: short probes */
  size_t j = slot_of(o->id, s->cap), tomb = SIZE_MAX;
  for (;; j = (j + 1) & (s->cap - 1)) {
    Object *x = s->slots[j];
    if (!x) break;
    if (x == TOMBSTONE) {
      if (tomb == SIZE_MAX) tomb = j;
      continue;
    }
    if (x->id == o->id) {
      s->slots[j] = o;
      return;
    }
  }
  if (tomb != SIZE_MAX) j = tomb;
  else s->used++;
  s->slots[j] = o;
  s->count++;
  if (s->watch) s->watch(s->watch_ctx, o, true);
}

void store_remove(Store *s, uint64_t id) {
  if (!s->cap) return;
  for (size_t j = slot_of(id, s->cap);; j = (j + 1) & (s->cap - 1)) {
    Object *o = s->slots[j];
    if (!o) return;
    if (o != TOMBSTONE && o->id == id) {
      s->slots[j] = TOMBSTONE;
      s->count--;
      if (s->watch) s->watch(s->watch_ctx, o, false);
      return;
    }
  }
}

static int by_id(const void *a, const void *b) {
  uint64_t x = (*(Object *const *)a)->id, y = (*(Object *const *)b)->id;
  return (x > y) - (x < y);
}

size_t store_sorted(const Store *s, Object ***out) {
  Object **v = GC_MALLOC((s->count + 1) * sizeof *v);
  size_t n = 0;
  for (size_t j = 0; j < s->cap; j++)
    if (s->slots[j] && s->slots[j] != TOMBSTONE) v[n++] = s->slots[j];
  qsort(v, n, sizeof *v, by_id);
  *out = v;
  return n;
}
