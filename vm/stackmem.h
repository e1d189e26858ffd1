/* vm/stackmem.h — the memory behind fiber stacks and frame arrays. */
#ifndef AVM_STACKMEM_H
#define AVM_STACKMEM_H
#include <stdbool.h>
#include <stddef.h>

/* How a growable array is held: a GC block while small; past a threshold,
 * a large reserved mapping that grows in place and is registered with the
 * collector as a root range. */
typedef void (*StackMemRelease)(void *owner, void *data);

typedef struct StackMem {
  bool mapped;
  size_t reserved;   /* bytes of address space reserved (mapped only) */
  size_t rooted;     /* bytes currently registered as a root */
  /* The GC object that holds the array: when the array moves to a
   * mapping, [release] becomes its finalizer and must release every
   * mapping the owner holds (stackmem_release). */
  void *owner;
  StackMemRelease release;
} StackMem;

/* Grows *[p] (of *[cap] elements of [elem] bytes) to hold at least [need]
 * elements, keeping its contents.  [reserve] bounds a mapping.  False when
 * that is impossible. */
bool stackmem_grow(void **p, size_t *cap, size_t need, size_t elem, size_t reserve, StackMem *m);
/* Releases a mapping (called when its fiber is collected). */
void stackmem_release(void *p, StackMem *m);

#endif
