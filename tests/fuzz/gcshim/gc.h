/* tests/fuzz/gcshim/gc.h — a stand-in for Boehm GC's <gc.h> in the "precise"
 * fuzzing build (tests/fuzz/build.sh --precise).  Blocks from the Boehm
 * heap carry no ASan redzones, so an out-of-bounds read of a closure's
 * upvalues or a proto's constants goes unnoticed there.  Here every
 * collectable block is a malloc'd block (so ASan sees its bounds) kept on a
 * list, and gcshim_reset() frees them all: the fuzz target calls it after
 * each input, when nothing allocated for that input is live any more.
 * Uncollectable blocks (symbols, the VM) are plain allocations. */
#ifndef AVM_FUZZ_GCSHIM_H
#define AVM_FUZZ_GCSHIM_H
#include <stddef.h>

void *gcshim_alloc(size_t n, int collectable);
void *gcshim_realloc(void *p, size_t n);
void gcshim_free(void *p);
/* Frees every collectable block allocated since the last reset. */
void gcshim_reset(void);

#define GC_INIT() ((void)0)
#define GC_MALLOC(n) gcshim_alloc((n), 1)
#define GC_MALLOC_ATOMIC(n) gcshim_alloc((n), 1)
#define GC_MALLOC_UNCOLLECTABLE(n) gcshim_alloc((n), 0)
#define GC_MALLOC_ATOMIC_UNCOLLECTABLE(n) gcshim_alloc((n), 0)
#define GC_REALLOC(p, n) gcshim_realloc((p), (n))
#define GC_FREE(p) gcshim_free(p)
#define GC_add_roots(lo, hi) ((void)(lo), (void)(hi))
#define GC_remove_roots(lo, hi) ((void)(lo), (void)(hi))
/* No collection, so no finalizers: the fuzz target releases fiber stacks. */
#define GC_register_finalizer_ignore_self(obj, fn, cd, ofn, ocd) \
  ((void)(obj), (void)(fn), (void)(cd), (void)(ofn), (void)(ocd))

#endif
