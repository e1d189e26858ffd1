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

static void set_root(void *p, StackMem *m, size_t bytes) {
  if (m->rooted) GC_remove_roots(p, (char *)p + m->rooted);
  GC_add_roots(p, (char *)p + bytes);
  m->rooted = bytes;
}

bool stackmem_grow(void **p, size_t *cap, size_t need, size_t elem, size_t reserve, StackMem *m) {
  if (need <= *cap) return true;
  size_t ncap = *cap ? *cap : 16;
  while (ncap < need) ncap = ncap < ((size_t)1 << 20) ? ncap * 2 : ncap + ncap / 2;
  size_t bytes = ncap * elem;
  if (m->mapped) {
    if (need * elem > m->reserved) return false;
    if (bytes > m->reserved) bytes = m->reserved - m->reserved % elem;
    set_root(*p, m, bytes);
    *cap = bytes / elem;
    return true;
  }
  if (bytes <= MAP_THRESHOLD) {
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
  if (need * elem > reserve) return false;
  void *np = mmap(NULL, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (np == MAP_FAILED) return false;
  /* Huge pages, where the kernel offers them on request: a deep stack
   * then costs a page fault per 2 MB instead of per 4 KB. */
  madvise(np, reserve, MADV_HUGEPAGE);
  if (bytes > reserve) bytes = reserve - reserve % elem;
  m->mapped = true;
  m->reserved = reserve;
  m->rooted = 0;
  set_root(np, m, bytes);
  if (*p) {
    memcpy(np, *p, *cap * elem);
    GC_FREE(*p);
  }
  *p = np;
  *cap = bytes / elem;
  return true;
}

void stackmem_release(void *p, StackMem *m) {
  if (!m->mapped) return;
  if (m->rooted) GC_remove_roots(p, (char *)p + m->rooted);
  munmap(p, m->reserved);
  m->mapped = false;
}
