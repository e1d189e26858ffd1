/* compiler/writer.c — serialises an unlinked Module into the .avmb format
 * of vm/avmb.h.  Deterministic: the same module gives the same bytes. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "compiler/compiler.h"
#include "vm/avmb.h"

/* Sections are assembled in a util Buf; bytes go in little-endian. */
static void put(Buf *b, const void *data, size_t n) { buf_put(b, data, n); }
static void u8(Buf *b, unsigned v) { unsigned char c = (unsigned char)v; put(b, &c, 1); }
static void u16(Buf *b, unsigned v) { u8(b, v & 0xFF); u8(b, (v >> 8) & 0xFF); }
static void u32(Buf *b, uint32_t v) { u16(b, v & 0xFFFF); u16(b, v >> 16); }
static void u64(Buf *b, uint64_t v) { u32(b, (uint32_t)v); u32(b, (uint32_t)(v >> 32)); }
static void str(Buf *b, const char *s, size_t n) { u32(b, (uint32_t)n); put(b, s, n); }
static void patch32(Buf *b, size_t at, uint32_t v) {
  for (int j = 0; j < 4; j++) b->p[at + (size_t)j] = (char)(unsigned char)(v >> (8 * j));
}

/* Writes a constant in pre-order with an explicit work stack, so deeply
 * nested data cannot overflow the C stack. */
static void value(Buf *b, Value v) {
  size_t cap = 64, n = 0;
  Value *st = malloc(cap * sizeof *st);
  if (!st) abort();
  st[n++] = v;
  while (n) {
    v = st[--n];
    if (v_is_just(v)) {
      u8(b, KC_JUST);
      st[n++] = v_from_just(v);
      continue;
    }
    switch (v.tag) {
      case T_NIL: u8(b, KC_NIL); break;
      case T_BOOL: u8(b, v.as.b ? KC_TRUE : KC_FALSE); break;
      case T_INT: u8(b, KC_INT); u64(b, (uint64_t)v.as.i); break;
      case T_STR: u8(b, KC_STR); str(b, v.as.str->data, v.as.str->len); break;
      case T_SYM: u8(b, KC_SYM); str(b, v.as.sym->name, v.as.sym->len); break;
      case T_PRIM: u8(b, KC_PRIM); u32(b, (uint32_t)v.as.u); break;
      case T_NOTHING: u8(b, KC_NOTHING); break;
      case T_PAIR: {
        size_t count = 0;
        Value l = v;
        for (; l.tag == T_PAIR; l = l.as.pair->cdr) count++;
        if (n + count + 2 > cap) {
          while (n + count + 2 > cap) cap *= 2;
          Value *ns = realloc(st, cap * sizeof *st);
          if (!ns) abort();
          st = ns;
        }
        u8(b, KC_LIST);
        u32(b, (uint32_t)count);
        st[n++] = l;  /* the tail comes after the items */
        n += count;
        size_t k = n;
        for (Value x = v; x.tag == T_PAIR; x = x.as.pair->cdr) st[--k] = x.as.pair->car;
        break;
      }
      default: u8(b, KC_UNSPEC); break;  /* unspecified; nothing else is a constant */
    }
  }
  free(st);
}

static uint32_t flat_index(const Module *m, const Proto *p) {
  for (uint32_t j = 0; j < m->nprotos; j++)
    if (m->protos[j] == p) return j;
  return UINT32_MAX;
}

/* The operand of a global instruction as the module names the global:
 * linking made it the VM's slot. */
static uint32_t global_operand(const Module *m, const Instr *in) {
  if (!m->linked || (in->op != OP_GETGLOBAL && in->op != OP_DEFGLOBAL)) return (uint32_t)in->bx;
  for (uint32_t g = 0; g < m->nglobals; g++)
    if (m->slots[g] == (size_t)in->bx) return g;
  abort();  /* linking gave every global of the module a slot */
}

static void proto(Buf *b, const Module *m, const Proto *p) {
  u16(b, p->nparams);
  u8(b, p->rest);
  u16(b, p->nregs);
  if (p->name) str(b, p->name->name, p->name->len);
  else u32(b, UINT32_MAX);
  u16(b, p->nup);
  for (uint32_t j = 0; j < p->nup; j++) {
    u8(b, p->up[j].from_reg);
    u16(b, p->up[j].index);
  }
  u32(b, p->ncode);
  for (uint32_t j = 0; j < p->ncode; j++) {
    const Instr *in = &p->code[j];
    u8(b, in->op);
    u8(b, in->x);
    u16(b, in->a);
    if (in->op < OP__COUNT && op_info[in->op].bx != OK_NONE) {
      u32(b, global_operand(m, in));
    } else {
      u16(b, in->b);
      u16(b, in->c);
    }
  }
  for (uint32_t j = 0; j < p->ncode; j++) {
    u32(b, (uint32_t)p->lines[j].line);
    u32(b, (uint32_t)p->lines[j].col);
    u32(b, (uint32_t)p->lines[j].end_line);
    u32(b, (uint32_t)p->lines[j].end_col);
  }
  u32(b, p->nk);
  for (uint32_t j = 0; j < p->nk; j++) value(b, p->k[j]);
  u32(b, p->nprotos);
  for (uint32_t j = 0; j < p->nprotos; j++) u32(b, flat_index(m, p->protos[j]));
}

static void section(Buf *b, const Module *m, uint32_t tag) {
  if (tag == avmb_fourcc("SRCN")) {
    str(b, m->file ? m->file : "", m->file ? strlen(m->file) : 0);
  } else if (tag == avmb_fourcc("SYMS")) {
    u32(b, m->nglobals);
    for (uint32_t j = 0; j < m->nglobals; j++) {
      u8(b, m->gflags ? m->gflags[j] : 0);
      str(b, m->globals[j]->name, m->globals[j]->len);
    }
  } else if (tag == avmb_fourcc("FUNC")) {
    u32(b, m->nprotos);
    for (uint32_t j = 0; j < m->nprotos; j++) proto(b, m, m->protos[j]);
  } else if (tag == avmb_fourcc("DECL")) {
    u32(b, m->ndecls);
    for (uint32_t j = 0; j < m->ndecls; j++) {
      u8(b, m->decls[j].kind);
      str(b, m->decls[j].name->name, m->decls[j].name->len);
      u32(b, m->decls[j].proto);
    }
  }
}

unsigned char *avmb_write(const Module *m, size_t *len) {
  static const char *tags[] = {
#define X(name, cc, req) cc,
    AVMB_SECTIONS(X)
#undef X
  };
  const uint32_t nsec = sizeof tags / sizeof *tags;
  Buf b = { 0 };
  put(&b, AVMB_MAGIC, AVMB_MAGIC_LEN);
  u16(&b, AVMB_VERSION_MAJOR);
  u16(&b, AVMB_VERSION_MINOR);
  u32(&b, (m->flags & MODULE_UNSAFE) ? AVMB_FLAG_UNSAFE : 0);
  u32(&b, 0);  /* CRC, patched below */
  u32(&b, nsec);
  size_t table = b.n;
  for (uint32_t s = 0; s < nsec; s++) { u32(&b, 0); u32(&b, 0); u32(&b, 0); }
  for (uint32_t s = 0; s < nsec; s++) {
    uint32_t tag = avmb_fourcc(tags[s]);
    size_t start = b.n;
    section(&b, m, tag);
    patch32(&b, table + 12 * s, tag);
    patch32(&b, table + 12 * s + 4, (uint32_t)start);
    patch32(&b, table + 12 * s + 8, (uint32_t)(b.n - start));
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, (const Bytef *)b.p + AVMB_HEADER_LEN, (uInt)(b.n - AVMB_HEADER_LEN));
  patch32(&b, 16, (uint32_t)crc);
  *len = b.n;
  return (unsigned char *)b.p;
}
