/* util/symbol.h — interned symbols, shared by the reader, the compiler and
 * the VM.  Two symbols are the same iff their pointers are equal.  Symbols
 * live for the whole process (the table is their root) and never change
 * once made, so any thread may read them. */
#ifndef AVM_SYMBOL_H
#define AVM_SYMBOL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Symbol {
  uint32_t hash;
  uint32_t len;
  bool needs_bars;      /* would not read back as itself: written |like this| */
  char name[];          /* NUL-terminated */
} Symbol;

Symbol *sym_intern(const char *name, size_t len);
Symbol *sym_intern_cstr(const char *name);

#endif
