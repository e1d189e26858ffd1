/* vm/loader.c — reads a .avmb image (vm/avmb.h) back into a Module.  The
 * input is untrusted: every count is checked against the bytes that remain
 * before anything is allocated, every string and datum is bounded, and the
 * result still goes through vm_verify() before it may run. */
#include <gc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include "vm/avmb.h"
#include "vm/loader.h"

typedef struct Reader {
  const unsigned char *p;
  size_t len, pos;
  char *err;
  size_t errlen;
  bool failed;
} Reader;

static bool fail(Reader *r, const char *fmt, ...) {
  if (!r->failed) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, r->errlen, fmt, ap);
    va_end(ap);
  }
  r->failed = true;
  return false;
}

static bool need(Reader *r, size_t n) {
  if (r->failed) return false;
  if (r->len - r->pos < n) return fail(r, "truncated file (needed %zu more bytes at offset %zu)", n, r->pos);
  return true;
}
static uint8_t rd8(Reader *r) { return need(r, 1) ? r->p[r->pos++] : 0; }
static uint16_t rd16(Reader *r) {
  if (!need(r, 2)) return 0;
  uint16_t v = (uint16_t)(r->p[r->pos] | r->p[r->pos + 1] << 8);
  r->pos += 2;
  return v;
}
static uint32_t rd32(Reader *r) {
  uint32_t lo = rd16(r);
  return lo | (uint32_t)rd16(r) << 16;
}
static uint64_t rd64(Reader *r) {
  uint64_t lo = rd32(r);
  return lo | (uint64_t)rd32(r) << 32;
}

/* A count of items each at least [min_size] bytes long. */
static uint32_t rdcount(Reader *r, size_t min_size, const char *what) {
  uint32_t n = rd32(r);
  if (!r->failed && (uint64_t)n * min_size > r->len - r->pos) {
    fail(r, "corrupt %s count %u at offset %zu", what, n, r->pos - 4);
    return 0;
  }
  return n;
}

static const char *rdstr(Reader *r, uint32_t *len_out) {
  uint32_t n = rd32(r);
  if (r->failed || !need(r, n)) return NULL;
  char *s = GC_MALLOC_ATOMIC((size_t)n + 1);
  memcpy(s, r->p + r->pos, n);
  s[n] = '\0';
  r->pos += n;
  if (len_out) *len_out = n;
  return s;
}

static Symbol *rdsym(Reader *r) {
  uint32_t n;
  const char *s = rdstr(r, &n);
  return s ? sym_intern(s, n) : NULL;
}

static Value rdvalue(Reader *r, int depth) {
  if (depth > AVMB_MAX_DATUM_DEPTH) {
    fail(r, "constant nested too deeply");
    return v_nil();
  }
  uint8_t tag = rd8(r);
  if (r->failed) return v_nil();
  switch (tag) {
    case KC_NIL: return v_nil();
    case KC_FALSE: return v_bool(false);
    case KC_TRUE: return v_bool(true);
    case KC_INT: return v_int((int64_t)rd64(r));
    case KC_UNSPEC: return v_unspec();
    case KC_NOTHING: return v_nothing();
    case KC_STR: {
      uint32_t n;
      const char *s = rdstr(r, &n);
      return s ? v_string(s, n) : v_nil();
    }
    case KC_SYM: {
      Symbol *s = rdsym(r);
      return s ? v_sym(s) : v_nil();
    }
    case KC_PRIM: {
      uint32_t idx = rd32(r);
      if (idx >= PROC_PRIM_COUNT) fail(r, "unknown primitive %u in constant", idx);
      return v_prim(idx);
    }
    case KC_JUST: return v_just(rdvalue(r, depth + 1));
    case KC_LIST: {
      uint32_t n = rdcount(r, 1, "list");
      Value *items = GC_MALLOC((size_t)(n ? n : 1) * sizeof(Value));
      for (uint32_t j = 0; j < n && !r->failed; j++) items[j] = rdvalue(r, depth + 1);
      Value tail = rdvalue(r, depth + 1);
      for (uint32_t j = n; j > 0; j--) tail = v_cons(items[j - 1], tail);
      return tail;
    }
    default:
      fail(r, "unknown constant tag %u at offset %zu", tag, r->pos - 1);
      return v_nil();
  }
}

static bool rdproto(Reader *r, Module *m, Proto *p, uint32_t **children) {
  p->module = m;
  p->nparams = rd16(r);
  p->rest = rd8(r) != 0;
  p->nregs = rd16(r);
  uint32_t nlen = rd32(r);
  if (nlen != UINT32_MAX) {
    r->pos -= 4;
    p->name = rdsym(r);
  }
  p->nup = rd16(r);
  if (!r->failed && (size_t)p->nup * 3 > r->len - r->pos) fail(r, "corrupt upvalue count %u", p->nup);
  if (r->failed) return false;
  p->up = GC_MALLOC_ATOMIC((size_t)(p->nup ? p->nup : 1) * sizeof(UpvalDesc));
  for (uint32_t j = 0; j < p->nup; j++) {
    p->up[j].from_reg = rd8(r);
    p->up[j].index = rd16(r);
  }
  p->ncode = rdcount(r, AVMB_INSTR_SIZE + AVMB_SPAN_SIZE, "instruction");
  if (r->failed) return false;
  p->code = GC_MALLOC_ATOMIC((size_t)(p->ncode ? p->ncode : 1) * sizeof(Instr));
  for (uint32_t j = 0; j < p->ncode && !r->failed; j++) {
    Instr *in = &p->code[j];
    memset(in, 0, sizeof *in);
    in->op = rd8(r);
    in->x = rd8(r);
    in->a = rd16(r);
    if (in->op < OP__COUNT && op_info[in->op].bx != OK_NONE) {
      in->bx = (int32_t)rd32(r);
    } else {
      in->b = rd16(r);
      in->c = rd16(r);
    }
  }
  p->lines = GC_MALLOC_ATOMIC((size_t)(p->ncode ? p->ncode : 1) * sizeof(LineInfo));
  for (uint32_t j = 0; j < p->ncode && !r->failed; j++) {
    p->lines[j].line = (int32_t)rd32(r);
    p->lines[j].col = (int32_t)rd32(r);
    p->lines[j].end_line = (int32_t)rd32(r);
    p->lines[j].end_col = (int32_t)rd32(r);
  }
  p->nk = rdcount(r, 1, "constant");
  if (r->failed) return false;
  p->k = GC_MALLOC((size_t)(p->nk ? p->nk : 1) * sizeof(Value));
  for (uint32_t j = 0; j < p->nk && !r->failed; j++) p->k[j] = rdvalue(r, 0);
  p->nprotos = rdcount(r, 4, "child function");
  if (r->failed) return false;
  *children = GC_MALLOC_ATOMIC((size_t)(p->nprotos ? p->nprotos : 1) * sizeof(uint32_t));
  for (uint32_t j = 0; j < p->nprotos; j++) (*children)[j] = rd32(r);
  return !r->failed;
}

typedef struct SectionRef { uint32_t off, len; bool present; } SectionRef;

static bool sub_reader(Reader *r, Reader *sub, SectionRef s) {
  *sub = *r;
  sub->p = r->p + s.off;
  sub->len = s.len;
  sub->pos = 0;
  return true;
}

Module *avmb_load(const unsigned char *data, size_t len, char *err, size_t errlen) {
  Reader r = { data, len, 0, err, errlen, false };
  if (len < AVMB_HEADER_LEN || memcmp(data, AVMB_MAGIC, AVMB_MAGIC_LEN) != 0) {
    if (len >= AVMB_MAGIC_LEN && memcmp(data, AVMB_MAGIC, AVMB_MAGIC_LEN) == 0) fail(&r, "truncated file (header incomplete)");
    else fail(&r, "not an avm bytecode file (bad magic number)");
    return NULL;
  }
  r.pos = AVMB_MAGIC_LEN;
  uint16_t major = rd16(&r), minor = rd16(&r);
  uint32_t flags = rd32(&r), crc_stored = rd32(&r);
  if (major != AVMB_VERSION_MAJOR) {
    fail(&r, "unsupported bytecode format version %u.%u (this avm reads %u.x)", major, minor, AVMB_VERSION_MAJOR);
    return NULL;
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, data + AVMB_HEADER_LEN, (uInt)(len - AVMB_HEADER_LEN));
  if ((uint32_t)crc != crc_stored) {
    fail(&r, "checksum mismatch: the file is corrupted or truncated");
    return NULL;
  }
  uint32_t nsec = rdcount(&r, 12, "section");
  enum {
#define X(name, cc, req) SEC_##name,
    AVMB_SECTIONS(X)
#undef X
    SEC__COUNT
  };
  static const char *names[] = {
#define X(name, cc, req) cc,
    AVMB_SECTIONS(X)
#undef X
  };
  SectionRef secs[SEC__COUNT] = { { 0, 0, false } };
  for (uint32_t s = 0; s < nsec && !r.failed; s++) {
    uint32_t tag = rd32(&r), off = rd32(&r), slen = rd32(&r);
    if ((uint64_t)off + slen > len || off < AVMB_HEADER_LEN) {
      fail(&r, "section %u lies outside the file", s);
      break;
    }
    for (int k = 0; k < SEC__COUNT; k++)
      if (tag == avmb_fourcc(names[k])) secs[k] = (SectionRef){ off, slen, true };
  }
  if (r.failed) return NULL;
  for (int k = 0; k < SEC__COUNT; k++)
    if (!secs[k].present) {
      fail(&r, "missing section %s", names[k]);
      return NULL;
    }

  Module *m = GC_MALLOC(sizeof *m);
  memset(m, 0, sizeof *m);
  m->flags = (flags & AVMB_FLAG_UNSAFE) ? MODULE_UNSAFE : 0;
  Reader s;

  sub_reader(&r, &s, secs[SEC_SRCN]);
  m->file = rdstr(&s, NULL);
  if (s.failed) return NULL;

  sub_reader(&r, &s, secs[SEC_SYMS]);
  m->nglobals = rdcount(&s, 5, "global");
  m->globals = GC_MALLOC((size_t)(m->nglobals ? m->nglobals : 1) * sizeof(Symbol *));
  m->gflags = GC_MALLOC_ATOMIC(m->nglobals ? m->nglobals : 1);
  for (uint32_t j = 0; j < m->nglobals && !s.failed; j++) {
    m->gflags[j] = rd8(&s) & (GF_DEFINED | GF_IMPURE);
    m->globals[j] = rdsym(&s);
  }

  if (!s.failed) {
    sub_reader(&r, &s, secs[SEC_FUNC]);
    m->nprotos = rdcount(&s, 20, "function");
    if (!s.failed && m->nprotos == 0) fail(&s, "no top-level function");
    m->protos = GC_MALLOC((size_t)(m->nprotos ? m->nprotos : 1) * sizeof(Proto *));
    uint32_t **children = GC_MALLOC((size_t)(m->nprotos ? m->nprotos : 1) * sizeof(uint32_t *));
    for (uint32_t j = 0; j < m->nprotos && !s.failed; j++) {
      m->protos[j] = GC_MALLOC(sizeof(Proto));
      memset(m->protos[j], 0, sizeof(Proto));
      rdproto(&s, m, m->protos[j], &children[j]);
    }
    for (uint32_t j = 0; j < m->nprotos && !s.failed; j++) {
      Proto *p = m->protos[j];
      p->protos = GC_MALLOC((size_t)(p->nprotos ? p->nprotos : 1) * sizeof(Proto *));
      for (uint32_t c = 0; c < p->nprotos; c++) {
        if (children[j][c] >= m->nprotos) {
          fail(&s, "function %u: child function index %u out of range", j, children[j][c]);
          break;
        }
        p->protos[c] = m->protos[children[j][c]];
      }
    }
  }

  if (!s.failed) {
    sub_reader(&r, &s, secs[SEC_DECL]);
    m->ndecls = rdcount(&s, 9, "declaration");
    m->decls = GC_MALLOC((size_t)(m->ndecls ? m->ndecls : 1) * sizeof(Decl));
    for (uint32_t j = 0; j < m->ndecls && !s.failed; j++) {
      uint8_t kind = rd8(&s);
      if (kind != DECL_BEHAVIOR && kind != DECL_PURE) fail(&s, "declaration %u: unknown kind %u", j, kind);
      m->decls[j].kind = (DeclKind)kind;
      m->decls[j].name = rdsym(&s);
      m->decls[j].proto = rd32(&s);
      if (!s.failed && m->decls[j].proto >= m->nprotos)
        fail(&s, "declaration %u: function index out of range", j);
    }
  }
  if (s.failed) return NULL;
  return m;
}
