/* vm/stackmem.c — memory for fiber stacks and frame arrays.  Small ones
 * are GC blocks.  A deep recursion (or a million nested object calls)
 * instead gets a reserved mapping that grows in place: no copy at each
 * growth and no old blocks left for the collector, so the stack costs its
 * final size once instead of about three times, and its pages are touched
 * once.  The used part of a mapping is a GC root range, since it holds the
 * only references to many heap values. */
#include <gc.h>
#include <string.h>
#include <sys/mman.h>
#include "vm/stackmem.h"

#define MAP_THRESHOLD ((size_t)4 << 20)
#define MAP_CHUNK ((size_t)8 << 20)

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23   /* Linux 5.14 */
#endif

/* Faults in [len] bytes at [p] at once; a kernel without the request
 * leaves them to fault in one by one. */
static void populate(void *p, size_t len) {
  if (len) madvise(p, len, MADV_POPULATE_WRITE);
}

static void set_root(void *p, StackMem *m, size_t bytes) {
  if (m->rooted) GC_remove_roots(p, (char *)p + m->rooted);
  GC_add_roots(p, (char *)p + bytes);
  m->rooted = bytes;
}

/* Extends the rooted, populated part of a mapping to hold [need] elements.
 * A mapping grows by whole chunks, each populated in one system call: far
 * cheaper than a page fault per page, and at most a chunk more than the
 * stack uses is resident. */
static bool grow_mapped(void *p, size_t *cap, size_t need, size_t elem, StackMem *m) {
  if (need * elem > m->reserved) return false;
  size_t bytes = (need * elem + MAP_CHUNK - 1) / MAP_CHUNK * MAP_CHUNK;
  if (bytes > m->reserved) bytes = m->reserved - m->reserved % elem;
  populate((char *)p + m->rooted, bytes - m->rooted);
  set_root(p, m, bytes);
  *cap = bytes / elem;
  return true;
}

/* Moves a stack out of the GC heap into a fresh mapping of [reserve] bytes. */
static bool move_to_mapping(void **p, size_t *cap, size_t need, size_t elem, size_t reserve, StackMem *m) {
  if (need * elem > reserve) return false;
  void *np = mmap(NULL, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (np == MAP_FAILED) return false;
  /* Huge pages, where the kernel offers them on request. */
  madvise(np, reserve, MADV_HUGEPAGE);
  if (m->owner) GC_register_finalizer_ignore_self(m->owner, m->release, NULL, NULL, NULL);
  m->mapped = true;
  m->reserved = reserve;
  m->rooted = 0;
  size_t old = *cap;
  if (!grow_mapped(np, cap, need, elem, m)) return false;
  if (*p) {
    memcpy(np, *p, old * elem);
    GC_FREE(*p);
  }
  *p = np;
  return true;
}

bool stackmem_grow(void **p, size_t *cap, size_t need, size_t elem, size_t reserve, StackMem *m) {
  if (need <= *cap) return true;
  if (m->mapped) return grow_mapped(*p, cap, need, elem, m);
  size_t ncap = *cap ? *cap : 16;
  while (ncap < need) ncap *= 2;
  size_t bytes = ncap * elem;
  if (bytes > MAP_THRESHOLD) return move_to_mapping(p, cap, need, elem, reserve, m);
  void *np = GC_MALLOC(bytes);
  if (!np) return false;
  if (*p) {
    memcpy(np, *p, *cap * elem);
    GC_FREE(*p);
  }
  *p = np;
  *cap = ncap;
  return true;
}

void stackmem_release(void *p, StackMem *m) {
  if (!m->mapped) return;
  if (m->rooted) GC_remove_roots(p, (char *)p + m->rooted);
  munmap(p, m->reserved);
  m->mapped = false;
}
