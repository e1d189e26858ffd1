/* util/symbol.h — interned symbols, shared by the reader, the compiler and
 * the VM.  Two symbols are the same iff their pointers are equal.  Symbols
 * live for the whole process (the table is their root). */
#ifndef AVM_SYMBOL_H
#define AVM_SYMBOL_H
#include <stddef.h>
#include <stdint.h>

typedef struct Symbol {
  uint32_t hash;
  uint32_t len;
  uint8_t write_form;   /* the printer's memo: 0 not known yet, else SYM_PLAIN or SYM_BARS */
  char name[];          /* NUL-terminated */
} Symbol;

enum { SYM_PLAIN = 1, SYM_BARS = 2 };

Symbol *sym_intern(const char *name, size_t len);
Symbol *sym_intern_cstr(const char *name);

#endif
