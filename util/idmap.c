/* util/idmap.c — the id map of util/idmap.h: linear probing from a
 * multiplicative hash (ids are often consecutive or share their top
 * bits, so the hash mixes them down). */
#include <gc.h>
#include "util/idmap.h"

#define TOMBSTONE ((void *)1)

static size_t slot_of(uint64_t key, size_t cap) {
  return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

void *idmap_get(const IdMap *m, uint64_t key) {
  if (!m->cap) return NULL;
  for (size_t j = slot_of(key, m->cap);; j = (j + 1) & (m->cap - 1)) {
    IdMapSlot *s = &m->slots[j];
    if (!s->val) return NULL;
    if (s->val != TOMBSTONE && s->key == key) return s->val;
  }
}

static void grow(IdMap *m) {
  size_t cap = m->cap ? m->cap : 16;
  while (m->count * 4 >= cap) cap *= 2;  /* a quarter full after a rebuild */
  IdMapSlot *old = m->slots;
  size_t oldcap = m->cap;
  m->slots = GC_MALLOC(cap * sizeof *m->slots);
  m->cap = cap;
  m->used = m->count;
  for (size_t j = 0; j < oldcap; j++) {
    if (!old[j].val || old[j].val == TOMBSTONE) continue;
    size_t k = slot_of(old[j].key, cap);
    while (m->slots[k].val) k = (k + 1) & (cap - 1);
    m->slots[k] = old[j];
  }
}

void idmap_put(IdMap *m, uint64_t key, void *val) {
  if ((m->used + 1) * 2 >= m->cap) grow(m);
  size_t j = slot_of(key, m->cap), tomb = SIZE_MAX;
  for (;; j = (j + 1) & (m->cap - 1)) {
    IdMapSlot *s = &m->slots[j];
    if (!s->val) break;
    if (s->val == TOMBSTONE) {
      if (tomb == SIZE_MAX) tomb = j;
      continue;
    }
    if (s->key == key) {
      s->val = val;
      return;
    }
  }
  if (tomb != SIZE_MAX) j = tomb;
  else m->used++;
  m->slots[j] = (IdMapSlot){ key, val };
  m->count++;
}

void *idmap_remove(IdMap *m, uint64_t key) {
  if (!m->cap) return NULL;
  for (size_t j = slot_of(key, m->cap);; j = (j + 1) & (m->cap - 1)) {
    IdMapSlot *s = &m->slots[j];
    if (!s->val) return NULL;
    if (s->val != TOMBSTONE && s->key == key) {
      void *v = s->val;
      s->val = TOMBSTONE;
      m->count--;
      return v;
    }
  }
}

void idmap_each(IdMap *m, void (*fn)(void *ctx, uint64_t key, void *val), void *ctx) {
  for (size_t j = 0; j < m->cap; j++) {
    IdMapSlot *s = &m->slots[j];
    if (s->val && s->val != TOMBSTONE) fn(ctx, s->key, s->val);
  }
}
