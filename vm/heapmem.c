/* vm/heapmem.c — where the collector's heap comes from, and its start-up
 * settings (heap_init).
 *
 * On the virtual machines avm mostly runs on, the first touch of a fresh
 * page is a trap out to the hypervisor: about 12 µs a page on the
 * development machine, against 0.7 µs a page when the kernel fills a
 * whole range at once (madvise MADV_POPULATE_WRITE).  A program that
 * builds up state (objects in the store, a million nested calls) touches
 * every page of its growing heap once, and those traps were half of its
 * time.  Boehm GC has no hook for the memory it maps, so this file
 * interposes mmap for the process: a private, anonymous, read-write
 * mapping of a heap section's size (64 KiB to 64 MiB) is populated as it
 * is made.  Reservations (MAP_NORESERVE: fiber stacks, which populate
 * their own chunks), thread stacks and inaccessible mappings are left
 * alone, as is everything until heap_init has run.  Sanitizer builds keep
 * the sanitizers' own mmap. */
#include <gc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "vm/vm.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23   /* Linux 5.14; older kernels refuse it and pages fault in one by one */
#endif

#define POPULATE_MIN ((size_t)64 << 10)
#define POPULATE_MAX ((size_t)64 << 20)

static bool populate_heap;

#if !defined(AVM_SANITIZE) && defined(SYS_mmap)
static bool is_heap_section(size_t len, int prot, int flags) {
  return populate_heap && prot == (PROT_READ | PROT_WRITE) && (flags & MAP_ANONYMOUS) && (flags & MAP_PRIVATE) &&
         !(flags & (MAP_NORESERVE | MAP_STACK)) && len >= POPULATE_MIN && len <= POPULATE_MAX;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  void *p = (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, (long)off);
  if (p != MAP_FAILED && is_heap_section(len, prot, flags)) madvise(p, len, MADV_POPULATE_WRITE);
  return p;
}
#endif

/* The collector grows the heap once a collection frees less than
 * 1/DIVISOR of it (Boehm's default is 3).  AVM programs keep what they
 * create (objects live in the store), so most collections find little to
 * free: growing more eagerly does a fifth less work per commit for about
 * a tenth more memory.  GC_FREE_SPACE_DIVISOR in the environment still
 * overrides it. */
#define AVM_GC_FREE_SPACE_DIVISOR 1
/* A collection has a fixed cost (stopping the world, the roots) besides
 * marking what lives: a program whose live data is small and that makes
 * garbage fast (objects created and destroyed by the thousand) would
 * otherwise collect every few hundred KiB.  At least this much is
 * allocated between two collections. */
#define AVM_GC_MIN_BYTES_ALLOCD ((size_t)1 << 20)

void heap_init(void) {
  populate_heap = true;
  GC_INIT();
  if (!getenv("GC_FREE_SPACE_DIVISOR")) GC_set_free_space_divisor(AVM_GC_FREE_SPACE_DIVISOR);
  GC_set_min_bytes_allocd(AVM_GC_MIN_BYTES_ALLOCD);
}
