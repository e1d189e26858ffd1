/* util/symbol.c — the symbol table: open addressing, FNV-1a hashes, symbols
 * allocated as uncollectable atomic GC blocks (they hold no pointers and are
 * never freed). */
#include "util/symbol.h"
#include <gc.h>
#include <stdlib.h>
#include <string.h>

static Symbol **table;
static size_t capacity, count;

static uint32_t hash_bytes(const char *s, size_t len) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

static void grow(void) {
  size_t ncap = capacity ? capacity * 2 : 1024;
  Symbol **nt = calloc(ncap, sizeof *nt);
  if (!nt) abort();
  for (size_t i = 0; i < capacity; i++) {
    Symbol *s = table[i];
    if (!s) continue;
    size_t j = s->hash & (ncap - 1);
    while (nt[j]) j = (j + 1) & (ncap - 1);
    nt[j] = s;
  }
  free(table);
  table = nt;
  capacity = ncap;
}

/* Whether the name would read back as something else (a number, a dot,
 * nothing) or not be one token. */
static bool needs_bars(const char *n, size_t len) {
  if (len == 0) return true;
  if ((n[0] >= '0' && n[0] <= '9') || ((n[0] == '-' || n[0] == '+') && len > 1 && n[1] >= '0' && n[1] <= '9'))
    return true;
  if (len == 1 && n[0] == '.') return true;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)n[i];
    if (c <= ' ' || strchr("()[]\"';`,|#", c)) return !(i > 0 && c == '#');
  }
  return false;
}

Symbol *sym_intern(const char *name, size_t len) {
  if ((count + 1) * 2 > capacity) grow();
  uint32_t h = hash_bytes(name, len);
  size_t i = h & (capacity - 1);
  for (Symbol *s; (s = table[i]) != NULL; i = (i + 1) & (capacity - 1))
    if (s->hash == h && s->len == len && memcmp(s->name, name, len) == 0) return s;
  Symbol *s = GC_MALLOC_ATOMIC_UNCOLLECTABLE(sizeof *s + len + 1);
  if (!s) abort();
  s->hash = h;
  s->len = (uint32_t)len;
  s->needs_bars = needs_bars(name, len);
  memcpy(s->name, name, len);
  s->name[len] = '\0';
  table[i] = s;
  count++;
  return s;
}

Symbol *sym_intern_cstr(const char *name) { return sym_intern(name, strlen(name)); }
