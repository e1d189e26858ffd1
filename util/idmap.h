/* util/idmap.h — a hash map from 64-bit ids to pointers: the node's
 * location directory, its calls in flight, its connections by serial.
 * Open addressing with tombstones, at most half full, so a lookup is a
 * short probe whatever the size.  The slots are Boehm GC memory: the
 * values stay alive while they are in the map, so the map itself must be
 * somewhere the collector looks (GC memory or the stack). */
#ifndef AVM_IDMAP_H
#define AVM_IDMAP_H
#include <stddef.h>
#include <stdint.h>

typedef struct IdMapSlot {
  uint64_t key;
  void *val;          /* NULL: empty; IDMAP_TOMBSTONE: removed */
} IdMapSlot;

typedef struct IdMap {
  IdMapSlot *slots;
  size_t cap, count, used;   /* used: live slots and tombstones */
} IdMap;

/* The value of [key], or NULL. */
void *idmap_get(const IdMap *m, uint64_t key);
/* Sets [key] to [val] (not NULL), replacing what was there. */
void idmap_put(IdMap *m, uint64_t key, void *val);
/* Removes [key] and returns what it had, or NULL. */
void *idmap_remove(IdMap *m, uint64_t key);
/* Calls [fn] on every entry, in no particular order.  [fn] may remove the
 * entry it is given (and no other). */
void idmap_each(IdMap *m, void (*fn)(void *ctx, uint64_t key, void *val), void *ctx);

#endif
