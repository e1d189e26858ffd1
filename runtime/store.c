/* runtime/store.c — the object store: the objects by id (an IdMap, so
 * lookups, inserts and removals are O(1) and a commit's cost does not
 * depend on how many objects exist), and who is told of the changes. */
#include <gc.h>
#include <stdlib.h>
#include "runtime/runtime.h"

Object *store_get(const Store *s, uint64_t id) { return idmap_get(&s->objects, id); }

void store_put(Store *s, Object *o) {
  if (!idmap_put(&s->objects, o->id, o) && s->watch) s->watch(s->watch_ctx, o, true);
}

void store_remove(Store *s, uint64_t id) {
  Object *o = idmap_remove(&s->objects, id);
  if (o && s->watch) s->watch(s->watch_ctx, o, false);
}

typedef struct Listing {
  Object **v;
  size_t n;
} Listing;

static void list_one(void *ctx, uint64_t id, void *o) {
  (void)id;
  Listing *l = ctx;
  l->v[l->n++] = o;
}

static int by_id(const void *a, const void *b) {
  uint64_t x = (*(Object *const *)a)->id, y = (*(Object *const *)b)->id;
  return (x > y) - (x < y);
}

size_t store_sorted(const Store *s, Object ***out) {
  Listing l = { GC_MALLOC((s->objects.count + 1) * sizeof *l.v), 0 };
  idmap_each(&s->objects, list_one, &l);
  qsort(l.v, l.n, sizeof *l.v, by_id);
  *out = l.v;
  return l.n;
}
