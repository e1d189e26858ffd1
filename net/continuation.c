/* net/continuation.c — continuations and outcomes of teleported programs,
 * and the codebase their closures are resolved in (net/continuation.h
 * gives the format and the decisions). */
#include <gc.h>
#include <json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "compiler/compiler.h"
#include "net/continuation.h"
#include "net/wire.h"
#include "vm/loader.h"

typedef struct CodeEntry {
  Module *m;
  uint64_t hash;
  bool everywhere;       /* every node has it (the prelude): its bytecode stays home */
} CodeEntry;

/* {===== The codebase =====} */

/* FNV-1a over the module's bytecode: the same code, the same hash, on
 * every node of this build. */
static uint64_t module_hash(const Module *m) {
  size_t len;
  unsigned char *bytes = avmb_write(m, &len);
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < len; i++) h = (h ^ bytes[i]) * 1099511628211ull;
  free(bytes);
  return h;
}

void codebase_init(Codebase *cb, Runtime *rt, bool allow_unsafe) {
  *cb = (Codebase){ .rt = rt, .allow_unsafe = allow_unsafe };
  if (rt->vm->prelude) codebase_add(cb, rt->vm->prelude);
}

static CodeEntry *entry_of(Codebase *cb, Module *m) {
  CodeEntry *e = idmap_get(&cb->by_module, (uintptr_t)m);
  if (e) return e;
  e = GC_MALLOC(sizeof *e);
  *e = (CodeEntry){ .m = m, .hash = module_hash(m), .everywhere = m == cb->rt->vm->prelude };
  idmap_put(&cb->by_module, (uintptr_t)m, e);
  if (!idmap_get(&cb->by_hash, e->hash)) idmap_put(&cb->by_hash, e->hash, e);
  return e;
}

void codebase_add(Codebase *cb, Module *m) { entry_of(cb, m); }

static void put_hash(Buf *out, uint64_t h) {
  char hex[19];
  snprintf(hex, sizeof hex, "\"%016llx\"", (unsigned long long)h);
  buf_put(out, hex, 18);
}

static bool parse_hash(const char *s, uint64_t *out) {
  if (strlen(s) != 16) return false;
  uint64_t h = 0;
  for (int i = 0; i < 16; i++) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return false;
    h = h << 4 | (uint64_t)d;
  }
  *out = h;
  return true;
}

/* {===== Base64, for bytecode in JSON =====} */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_base64(Buf *out, const unsigned char *p, size_t n) {
  buf_putc(out, '"');
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    char q[4] = { b64[v >> 18], b64[v >> 12 & 63], i + 1 < n ? b64[v >> 6 & 63] : '=', i + 2 < n ? b64[v & 63] : '=' };
    buf_put(out, q, 4);
  }
  buf_putc(out, '"');
}

/* Decodes [s] into malloc'd bytes; NULL if it is not base64. */
static unsigned char *from_base64(const char *s, size_t len, size_t *n) {
  if (len % 4) return NULL;
  unsigned char *bytes = malloc(len / 4 * 3 + 1);
  if (!bytes) abort();
  size_t k = 0;
  for (size_t i = 0; i < len; i += 4) {
    uint32_t v = 0;
    int pad = 0;
    for (int j = 0; j < 4; j++) {
      const char *at = s[i + j] == '=' ? NULL : strchr(b64, s[i + j]);
      if (s[i + j] == '=' && i + 4 == len && j >= 2) {
        pad++;
      } else if (!at || !s[i + j] || pad) {
        free(bytes);
        return NULL;
      }
      v = v << 6 | (at ? (uint32_t)(at - b64) : 0);
    }
    bytes[k++] = (unsigned char)(v >> 16);
    if (pad < 2) bytes[k++] = (unsigned char)(v >> 8);
    if (pad < 1) bytes[k++] = (unsigned char)v;
  }
  *n = k;
  return bytes;
}

/* {===== Writing: values with procedures, and the code they need =====} */

typedef struct Capture {
  Codebase *cb;
  JsonProcs procs;
  IdMap seen;            /* Module address -> CodeEntry: modules already in [order] */
  CodeEntry **order;     /* the modules the values need, in the order met */
  size_t n, cap;
} Capture;

static void need(Capture *c, CodeEntry *e) {
  if (idmap_get(&c->seen, (uintptr_t)e->m)) return;
  idmap_put(&c->seen, (uintptr_t)e->m, e);
  c->order = gc_grow(c->order, c->n, &c->cap, sizeof *c->order, 8);
  c->order[c->n++] = e;
}

static uint32_t proto_index(const Proto *p) {
  for (uint32_t j = 0; j < p->module->nprotos; j++)
    if (p->module->protos[j] == p) return j;
  abort();  /* a proto is always in its module's list */
}

static void write_proc(void *ctx, Buf *out, Value v) {
  Capture *c = ctx;
  if (v.tag == T_UNDEF) {  /* a letrec slot not set yet */
    buf_lit(out, "\"Undefined\"");
    return;
  }
  if (v.tag == T_PRIM) {
    const char *name = proc_name(v);
    buf_lit(out, "{\"Prim\":");
    buf_json_string(out, name, strlen(name));
    buf_putc(out, '}');
    return;
  }
  Closure *cl = v.as.clo;
  CodeEntry *e = entry_of(c->cb, cl->p->module);
  need(c, e);
  buf_lit(out, "{\"Closure\":{\"module\":");
  put_hash(out, e->hash);
  buf_lit(out, ",\"proto\":");
  buf_u64(out, proto_index(cl->p));
  buf_lit(out, ",\"up\":[");
  for (uint32_t u = 0; u < cl->nup; u++) {
    if (u) buf_putc(out, ',');
    v_print_json_with(out, cl->up[u], &c->procs);
  }
  buf_lit(out, "]}}");
}

static void capture_init(Capture *c, Codebase *cb) {
  *c = (Capture){ .cb = cb, .procs = { write_proc, c } };
}

static void put_value(Capture *c, Buf *out, Value v) { v_print_json_with(out, v, &c->procs); }

/* What every node has already: primitives, and the prelude's procedures. */
static bool held_everywhere(Codebase *cb, Value v) {
  return v.tag == T_UNDEF || v.tag == T_PRIM || (v.tag == T_CLOSURE && v.as.clo->p->module == cb->rt->vm->prelude);
}

/* "globals": the values of the names the needed modules read, which may
 * need more modules: the list grows as it is walked. */
static void put_globals(Capture *c, Buf *out) {
  VM *vm = c->cb->rt->vm;
  IdMap sent = { 0 };
  bool first = true;
  buf_lit(out, "\"globals\":[");
  for (size_t k = 0; k < c->n; k++) {
    const Module *m = c->order[k]->m;
    if (c->order[k]->everywhere) continue;
    for (uint32_t j = 0; j < m->nglobals; j++) {
      size_t slot;
      Symbol *name = m->globals[j];
      if (idmap_get(&sent, (uintptr_t)name) || !vm_global_lookup(vm, name, &slot)) continue;
      Value v = vm->globals.values[slot];
      if (held_everywhere(c->cb, v)) continue;
      idmap_put(&sent, (uintptr_t)name, name);
      if (!first) buf_putc(out, ',');
      first = false;
      buf_putc(out, '[');
      buf_json_string(out, name->name, name->len);
      buf_putc(out, ',');
      put_value(c, out, v);
      buf_putc(out, ']');
    }
  }
  buf_putc(out, ']');
}

static void put_modules(Capture *c, Buf *out) {
  buf_lit(out, "\"modules\":[");
  for (size_t k = 0; k < c->n; k++) {
    CodeEntry *e = c->order[k];
    if (k) buf_putc(out, ',');
    buf_lit(out, "{\"hash\":");
    put_hash(out, e->hash);
    buf_lit(out, ",\"bytecode\":");
    if (e->everywhere) {
      buf_lit(out, "null");
    } else {
      size_t len;
      unsigned char *bytes = avmb_write(e->m, &len);
      put_base64(out, bytes, len);
      free(bytes);
    }
    buf_putc(out, '}');
  }
  buf_putc(out, ']');
}

/* {"modules": [...], FIELDS}: [fields] (freed) written first, since
 * writing them is what lists the modules they need. */
static void put_with_modules(Capture *c, Buf *out, Buf *fields) {
  buf_putc(out, '{');
  put_modules(c, out);
  buf_putc(out, ',');
  buf_put(out, fields->p, fields->n);
  buf_putc(out, '}');
  buf_free(fields);
}

void cont_capture(Codebase *cb, Program *p, Buf *out) {
  Capture c;
  capture_init(&c, cb);
  Fiber *f = p->fiber;
  const Frame *top = &f->frames[f->nframes - 1];
  size_t nstack = top->base + top->cl->p->nregs;
  Buf body = { 0 };
  buf_lit(&body, "\"frames\":[");
  for (size_t k = 0; k < f->nframes; k++) {
    const Frame *fr = &f->frames[k];
    if (k) buf_putc(&body, ',');
    buf_putc(&body, '[');
    put_value(&c, &body, v_tagged(T_CLOSURE, fr->cl));
    buf_putc(&body, ',');
    buf_u64(&body, (uint64_t)(fr->pc - fr->cl->p->code));
    buf_putc(&body, ',');
    buf_u64(&body, fr->base);
    buf_putc(&body, ']');
  }
  buf_lit(&body, "],\"stack\":[");
  for (size_t j = 0; j < nstack; j++) {
    if (j) buf_putc(&body, ',');
    put_value(&c, &body, f->stack[j]);
  }
  buf_lit(&body, "],\"dest\":");
  buf_u64(&body, f->vis_dest);
  buf_puts(&body, f->vis_returns ? ",\"returns\":true" : ",\"returns\":false");
  buf_lit(&body, ",\"controller\":");
  Symbol *ctrl = p->act->controller;
  if (ctrl) buf_json_string(&body, ctrl->name, ctrl->len);
  else buf_lit(&body, "null");
  buf_lit(&body, ",\"state\":");
  if (p->root) put_value(&c, &body, p->root->state);
  else buf_lit(&body, "null");
  buf_putc(&body, ',');
  put_globals(&c, &body);  /* last: the values above add the modules whose globals it sends */
  put_with_modules(&c, out, &body);
}

void cont_outcome(Codebase *cb, Program *p, Buf *out) {
  if (p->status != PS_DONE) {
    Buf text = { 0 };
    vm_error_text(&text, &p->error);
    buf_lit(out, "{\"error\":");
    buf_json_string(out, text.p ? text.p : "", text.n);
    buf_putc(out, '}');
    buf_free(&text);
    return;
  }
  Capture c;
  capture_init(&c, cb);
  Buf value = { 0 };
  buf_lit(&value, "\"value\":");
  put_value(&c, &value, p->result);
  put_with_modules(&c, out, &value);
}

/* {===== Reading =====} */

typedef struct Reader {
  Codebase *cb;
  WireProcs procs;
  char *err;
  size_t errlen;
} Reader;

static bool rfail(Reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool rfail(Reader *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->err, r->errlen, fmt, ap);
  va_end(ap);
  return false;
}

static bool read_closure(void *ctx, const char *module, uint64_t proto, const Value *up, size_t nup, Value *out,
                         char *err, size_t errlen) {
  Reader *r = ctx;
  uint64_t h;
  CodeEntry *e = parse_hash(module, &h) ? idmap_get(&r->cb->by_hash, h) : NULL;
  if (!e) return snprintf(err, errlen, "module %.20s is not held here", module), false;
  if (proto >= e->m->nprotos)
    return snprintf(err, errlen, "module %s has no procedure %llu", module, (unsigned long long)proto), false;
  Proto *p = e->m->protos[proto];
  if (nup != p->nup)
    return snprintf(err, errlen, "procedure %llu of module %s has %u upvalues, not %zu", (unsigned long long)proto,
                    module, p->nup, nup), false;
  Closure *cl = closure_new(p, (uint32_t)nup);
  memcpy(cl->up, up, nup * sizeof *up);
  *out = v_tagged(T_CLOSURE, cl);
  return true;
}

static bool read_prim(void *ctx, const char *name, Value *out, char *err, size_t errlen) {
  (void)ctx;
  for (unsigned j = 0; j < PROC_PRIM_COUNT; j++) {
    const char *n = proc_name(v_prim(j));
    if (n && strcmp(n, name) == 0) {
      *out = v_prim(j);
      return true;
    }
  }
  snprintf(err, errlen, "no primitive named %.40s", name);
  return false;
}

static bool read_value(Reader *r, json_object *j, Value *out) {
  return wire_json_value(j, &r->procs, out, r->err, r->errlen);
}

static bool member(Reader *r, json_object *obj, const char *key, json_type type, json_object **out) {
  if (!json_object_object_get_ex(obj, key, out)) return rfail(r, "missing \"%s\"", key);
  if (type != json_type_null && !json_object_is_type(*out, type)) return rfail(r, "\"%s\": wrong type", key);
  return true;
}

static bool read_u64(Reader *r, json_object *j, const char *what, uint64_t *out) {
  if (!json_object_is_type(j, json_type_int) || json_object_get_int64(j) < 0)
    return rfail(r, "%s: expected an unsigned integer", what);
  *out = json_object_get_uint64(j);
  return true;
}

/* Whether this machine already declares something [m] declares: other
 * code under that name, which the module must not replace (the objects
 * here run it), nor be run without. */
static Symbol *declared_here(Runtime *rt, const Module *m) {
  for (uint32_t j = 0; j < m->ndecls; j++) {
    Symbol *name = m->decls[j].name;
    if (m->decls[j].kind == DECL_BEHAVIOR && rt_has_behavior(rt, name)) return name;
    for (size_t k = 0; m->decls[j].kind == DECL_PURE && k < rt->npures; k++)
      if (rt->pures[k].name == name && rt->pures[k].proc.tag == T_CLOSURE) return name;
  }
  return NULL;
}

/* Takes the module of bytecode [b64text] claimed to hash to [h]. */
static bool take_module(Reader *r, uint64_t h, json_object *b64text) {
  Runtime *rt = r->cb->rt;
  size_t len;
  unsigned char *bytes = from_base64(json_object_get_string(b64text), (size_t)json_object_get_string_len(b64text), &len);
  if (!bytes) return rfail(r, "module %016llx: bytecode is not base64", (unsigned long long)h);
  char why[256];
  Module *m = avmb_load(bytes, len, why, sizeof why);
  free(bytes);
  if (!m || !vm_verify(m, why, sizeof why))
    return rfail(r, "module %016llx: invalid bytecode: %s", (unsigned long long)h, why);
  if ((m->flags & MODULE_UNSAFE) && !r->cb->allow_unsafe)
    return rfail(r, "module %016llx uses unsafe instructions (this node runs without --allow-unsafe)",
                 (unsigned long long)h);
  if (module_hash(m) != h) return rfail(r, "module %016llx: the bytecode has another hash", (unsigned long long)h);
  Symbol *clash = declared_here(rt, m);
  if (clash)
    return rfail(r, "module %016llx declares %s, which this machine declares with other code", (unsigned long long)h,
                 clash->name);
  vm_link(rt->vm, m);
  rt_load_module(rt, m, stderr);
  codebase_add(r->cb, m);
  return true;
}

static bool read_modules(Reader *r, json_object *doc) {
  json_object *mods;
  if (!member(r, doc, "modules", json_type_array, &mods)) return false;
  for (size_t k = 0; k < json_object_array_length(mods); k++) {
    json_object *mod = json_object_array_get_idx(mods, k), *hash, *code;
    uint64_t h;
    if (!json_object_is_type(mod, json_type_object) || !member(r, mod, "hash", json_type_string, &hash) ||
        !member(r, mod, "bytecode", json_type_null, &code))
      return rfail(r, "modules[%zu]: expected {\"hash\": string, \"bytecode\": string or null}", k);
    if (!parse_hash(json_object_get_string(hash), &h)) return rfail(r, "modules[%zu]: a hash is 16 hex digits", k);
    if (idmap_get(&r->cb->by_hash, h)) continue;  /* held already */
    if (!json_object_is_type(code, json_type_string))
      return rfail(r, "module %016llx is not held on this machine", (unsigned long long)h);
    if (!take_module(r, h, code)) return false;
  }
  return true;
}

static void reader_init(Reader *r, Codebase *cb, char *err, size_t errlen) {
  *r = (Reader){ .cb = cb, .procs = { r, read_closure, read_prim }, .err = err, .errlen = errlen };
}

/* The parts of a continuation, read and checked before anything is set. */
typedef struct Parts {
  Symbol **names;
  Value *values;
  size_t nglobals;
  Frame *frames;
  size_t nframes;
  Value *stack;
  size_t nstack;
  uint64_t dest;
  bool returns;
  Symbol *controller;
  json_object *state;
} Parts;

static bool read_globals(Reader *r, json_object *doc, Parts *pt) {
  json_object *gs;
  if (!member(r, doc, "globals", json_type_array, &gs)) return false;
  pt->nglobals = json_object_array_length(gs);
  pt->names = GC_MALLOC((pt->nglobals + 1) * sizeof *pt->names);
  pt->values = GC_MALLOC((pt->nglobals + 1) * sizeof *pt->values);
  for (size_t k = 0; k < pt->nglobals; k++) {
    json_object *g = json_object_array_get_idx(gs, k);
    if (!json_object_is_type(g, json_type_array) || json_object_array_length(g) != 2 ||
        !json_object_is_type(json_object_array_get_idx(g, 0), json_type_string))
      return rfail(r, "globals[%zu]: expected [name, value]", k);
    json_object *name = json_object_array_get_idx(g, 0);
    pt->names[k] = sym_intern(json_object_get_string(name), (size_t)json_object_get_string_len(name));
    if (!read_value(r, json_object_array_get_idx(g, 1), &pt->values[k])) return false;
  }
  return true;
}

static bool read_frames(Reader *r, json_object *doc, Parts *pt) {
  json_object *fs;
  if (!member(r, doc, "frames", json_type_array, &fs)) return false;
  pt->nframes = json_object_array_length(fs);
  pt->frames = GC_MALLOC((pt->nframes + 1) * sizeof *pt->frames);
  for (size_t k = 0; k < pt->nframes; k++) {
    json_object *fr = json_object_array_get_idx(fs, k);
    Value cl;
    uint64_t pc = 0, base = 0;
    if (!json_object_is_type(fr, json_type_array) || json_object_array_length(fr) != 3)
      return rfail(r, "frames[%zu]: expected [closure, pc, base]", k);
    if (!read_value(r, json_object_array_get_idx(fr, 0), &cl)) return false;
    if (cl.tag != T_CLOSURE) return rfail(r, "frames[%zu]: not a closure", k);
    if (!read_u64(r, json_object_array_get_idx(fr, 1), "pc", &pc) ||
        !read_u64(r, json_object_array_get_idx(fr, 2), "base", &base))
      return false;
    if (pc >= cl.as.clo->p->ncode) return rfail(r, "frames[%zu]: pc %llu is outside its code", k, (unsigned long long)pc);
    pt->frames[k] = (Frame){ .cl = cl.as.clo, .pc = cl.as.clo->p->code + pc, .base = (size_t)base };
  }
  return true;
}

static bool read_parts(Reader *r, json_object *doc, Parts *pt) {
  json_object *stack, *dest, *returns, *ctrl;
  if (!read_modules(r, doc) || !read_globals(r, doc, pt) || !read_frames(r, doc, pt)) return false;
  if (!member(r, doc, "stack", json_type_array, &stack) || !member(r, doc, "dest", json_type_int, &dest) ||
      !member(r, doc, "returns", json_type_boolean, &returns) || !member(r, doc, "controller", json_type_null, &ctrl) ||
      !member(r, doc, "state", json_type_null, &pt->state))
    return false;
  pt->nstack = json_object_array_length(stack);
  pt->stack = GC_MALLOC((pt->nstack + 1) * sizeof *pt->stack);
  for (size_t j = 0; j < pt->nstack; j++)
    if (!read_value(r, json_object_array_get_idx(stack, j), &pt->stack[j])) return false;
  if (!read_u64(r, dest, "dest", &pt->dest)) return false;
  pt->returns = json_object_get_boolean(returns);
  if (json_object_is_type(ctrl, json_type_string))
    pt->controller = sym_intern(json_object_get_string(ctrl), (size_t)json_object_get_string_len(ctrl));
  return true;
}

Program *cont_resume(Codebase *cb, const String *json, char *err, size_t errlen) {
  Reader r;
  reader_init(&r, cb, err, errlen);
  json_object *doc;
  if (!wire_json_parse(json->data, json->len, &doc, err, errlen)) return NULL;
  Parts pt = { 0 };
  Program *p = NULL;
  Value state = v_nil();
  if (!json_object_is_type(doc, json_type_object)) {
    rfail(&r, "a continuation is a JSON object");
  } else if (read_parts(&r, doc, &pt) &&
             (json_object_is_type(pt.state, json_type_null) || read_value(&r, pt.state, &state))) {
    Runtime *rt = cb->rt;
    Fiber *f = fiber_restore(rt->vm, pt.frames, pt.nframes, pt.stack, pt.nstack, (size_t)pt.dest, pt.returns, err,
                             errlen);
    if (f) {
      for (size_t k = 0; k < pt.nglobals; k++) vm_define_global(rt->vm, pt.names[k], pt.values[k]);
      p = rt_adopt(rt, f, pt.controller, v_bool(true));
      if (!json_object_is_type(pt.state, json_type_null)) {
        p->root = GC_MALLOC(sizeof *p->root);
        p->root->id = ROOT_ID;
        p->root->state = state;
      }
    }
  }
  json_object_put(doc);
  return p;
}

bool cont_read_outcome(Codebase *cb, const String *json, bool *ok, Value *value, const char **error, char *err,
                       size_t errlen) {
  Reader r;
  reader_init(&r, cb, err, errlen);
  json_object *doc, *j;
  if (!wire_json_parse(json->data, json->len, &doc, err, errlen)) return false;
  bool read = false;
  if (!json_object_is_type(doc, json_type_object)) {
    rfail(&r, "an outcome is a JSON object");
  } else if (json_object_object_get_ex(doc, "error", &j)) {
    *ok = false;
    *error = json_object_is_type(j, json_type_string) ? v_cstring(json_object_get_string(j)).as.str->data : "error";
    read = true;
  } else if (read_modules(&r, doc) && member(&r, doc, "value", json_type_null, &j) && read_value(&r, j, value)) {
    *ok = true;
    read = true;
  }
  json_object_put(doc);
  return read;
}
