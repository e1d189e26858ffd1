/* tests/fuzz/gcshim/gcshim.c — the allocator behind tests/fuzz/gcshim/gc.h.
 * Each block has a header with its index in the list of live collectable
 * blocks (SIZE_MAX for an uncollectable one). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "gc.h"

typedef struct Header { size_t idx; size_t size; } Header;

static void **live;
static size_t nlive, cap;

void *gcshim_alloc(size_t n, int collectable) {
  Header *h = calloc(1, sizeof *h + (n ? n : 1));
  if (!h) abort();
  h->size = n;
  h->idx = SIZE_MAX;
  if (collectable) {
    if (nlive == cap) {
      cap = cap ? cap * 2 : 4096;
      live = realloc(live, cap * sizeof *live);
      if (!live) abort();
    }
    h->idx = nlive;
    live[nlive++] = h;
  }
  return h + 1;
}

void *gcshim_realloc(void *p, size_t n) {
  if (!p) return gcshim_alloc(n, 1);
  Header *h = (Header *)p - 1;
  Header *nh = realloc(h, sizeof *nh + (n ? n : 1));
  if (!nh) abort();
  if (n > nh->size) memset((char *)(nh + 1) + nh->size, 0, n - nh->size);
  nh->size = n;
  if (nh->idx != SIZE_MAX) live[nh->idx] = nh;
  return nh + 1;
}

void gcshim_free(void *p) {
  if (!p) return;
  Header *h = (Header *)p - 1;
  if (h->idx != SIZE_MAX) live[h->idx] = NULL;
  free(h);
}

void gcshim_reset(void) {
  for (size_t j = 0; j < nlive; j++) free(live[j]);
  nlive = 0;
}
