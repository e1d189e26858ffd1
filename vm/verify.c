/* vm/verify.c — the bytecode verifier.  Driven by the operand kinds of
 * vm/opcodes.def: every register, constant, upvalue, global, child and jump
 * operand is checked against its table, so a forged or corrupted module is
 * refused before its first instruction runs. */
#include <stdarg.h>
#include <stdio.h>
#include "vm/loader.h"

typedef struct V {
  const Module *m;
  char *err;
  size_t errlen;
} V;

static bool bad(V *v, uint32_t fn, uint32_t pc, const char *fmt, ...) {
  int n = snprintf(v->err, v->errlen, "invalid bytecode: function %u, instruction %u: ", fn, pc);
  if (n < 0 || (size_t)n >= v->errlen) return false;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(v->err + n, v->errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return false;
}

static bool operand(V *v, uint32_t fn, uint32_t pc, const Proto *p, int kind, int64_t val, const char *field) {
  const char *name = op_info[p->code[pc].op].name;
  switch (kind) {
    case OK_NONE: case OK_IMM: case OK_SIMM: case OK_ARGC:
      return true;
    case OK_REG:
      if (val < p->nregs) return true;
      return bad(v, fn, pc, "%s: register %s=%lld out of range (%u registers)", name, field, (long long)val, p->nregs);
    case OK_CONST:
      if (val >= 0 && val < p->nk) return true;
      return bad(v, fn, pc, "%s: constant %lld out of range", name, (long long)val);
    case OK_PROTO:
      if (val >= 0 && val < p->nprotos) return true;
      return bad(v, fn, pc, "%s: function %lld out of range", name, (long long)val);
    case OK_GLOBAL:
      if (val >= 0 && val < v->m->nglobals) return true;
      return bad(v, fn, pc, "%s: global %lld out of range", name, (long long)val);
    case OK_UPVAL:
      if (val < p->nup) return true;
      return bad(v, fn, pc, "%s: upvalue %lld out of range", name, (long long)val);
    case OK_PRIM:
      if (val < PRIM__COUNT && val != PR_apply) return true;
      return bad(v, fn, pc, "%s: primitive %lld out of range", name, (long long)val);
    case OK_INSTR:
      if (val < IN__COUNT) return true;
      return bad(v, fn, pc, "%s: instruction %lld out of range", name, (long long)val);
    case OK_REGK:
      if (p->code[pc].x & 2) return operand(v, fn, pc, p, OK_CONST, val, field);
      return operand(v, fn, pc, p, OK_REG, val, field);
    case OK_JUMP: {
      int64_t target = (int64_t)pc + 1 + val;
      if (target >= 0 && target < p->ncode) return true;
      return bad(v, fn, pc, "%s: jump target %lld out of range", name, (long long)target);
    }
  }
  return bad(v, fn, pc, "unknown operand kind");
}

/* Register ranges and arities that one field alone cannot express. */
static bool ranges(V *v, uint32_t fn, uint32_t pc, const Proto *p) {
  const Instr *in = &p->code[pc];
  const char *name = op_info[in->op].name;
  switch (in->op) {
    case OP_CALL: case OP_TAILCALL:
      if ((uint32_t)in->a + in->b < p->nregs) return true;
      return bad(v, fn, pc, "%s: argument registers out of range", name);
    case OP_APPLY: case OP_TAILAPPLY:
      if (in->b >= 1 && (uint32_t)in->a + in->b < p->nregs) return true;
      return bad(v, fn, pc, "%s: argument registers out of range", name);
    case OP_PRIM: {
      const PrimInfo *pi = &prim_info[in->c];
      if ((uint32_t)in->b + in->x > p->nregs) return bad(v, fn, pc, "%s: argument registers out of range", name);
      if (in->x < pi->min_args || (pi->max_args >= 0 && in->x > pi->max_args))
        return bad(v, fn, pc, "%s: wrong argument count %u for %s", name, in->x, pi->name);
      return true;
    }
    case OP_CHECK:
      if (prim_info[in->c].fast_op == OP_CHECK) return true;
      return bad(v, fn, pc, "%s: %s is not an argument check", name, prim_info[in->c].name);
    case OP_AVM: {
      const InstrInfo *ii = &instr_info[in->c];
      if ((uint32_t)in->b + in->x > p->nregs) return bad(v, fn, pc, "%s: argument registers out of range", name);
      if (in->x < ii->min_args || (ii->max_args >= 0 && in->x > ii->max_args))
        return bad(v, fn, pc, "%s: wrong argument count %u for %s", name, in->x, ii->name);
      if (ii->safety == UNSAFE && !(v->m->flags & MODULE_UNSAFE))
        return bad(v, fn, pc, "unsafe instruction %s in a module not marked unsafe", ii->name);
      return true;
    }
    default:
      break;
  }
  if (op_info[in->op].flags & OPF_SKIP) {
    if (pc + 2 >= p->ncode || p->code[pc + 1].op != OP_JMP)
      return bad(v, fn, pc, "%s must be followed by a JMP and another instruction", name);
  }
  return true;
}

/* The first unsafe AVM instruction that constant [k] holds as a procedure
 * value (at any depth), or -1. */
static int unsafe_constant(Value k) {
  for (;;) {
    if (v_is_just(k)) {
      k = v_from_just(k);
      continue;
    }
    switch (k.tag) {
      case T_PRIM:
        if (k.as.u >= PRIM__COUNT && k.as.u < PROC_PRIM_COUNT && instr_info[k.as.u - PRIM__COUNT].safety == UNSAFE)
          return (int)(k.as.u - PRIM__COUNT);
        return -1;
      case T_PAIR: {
        int in = unsafe_constant(k.as.pair->car);
        if (in >= 0) return in;
        k = k.as.pair->cdr;
        break;
      }
      default: return -1;
    }
  }
}

/* A line-table entry is all zero (no source position) or a span with a
 * line and column from 1 that does not end before it starts.  Error
 * reports quote source lines by these numbers, so they must be sane. */
static bool span_ok(const LineInfo *l) {
  if (l->line == 0) return l->col == 0 && l->end_line == 0 && l->end_col == 0;
  if (l->line < 0 || l->col <= 0 || l->end_col < 0) return false;
  return l->end_line > l->line || (l->end_line == l->line && l->end_col >= l->col);
}

static bool verify_proto(V *v, uint32_t fn, const Proto *p) {
  if (p->ncode == 0) return bad(v, fn, 0, "empty function");
  if (p->nregs == 0 || p->nregs < p->nparams + (p->rest ? 1 : 0))
    return bad(v, fn, 0, "register count %u too small for %u parameters", p->nregs, p->nparams);
  int last = p->code[p->ncode - 1].op;
  if (last >= OP__COUNT || !(op_info[last].flags & OPF_RET || last == OP_JMP))
    return bad(v, fn, p->ncode - 1, "function does not end in a return or jump");
  for (uint32_t pc = 0; pc < p->ncode; pc++) {
    const Instr *in = &p->code[pc];
    if (in->op >= OP__COUNT) return bad(v, fn, pc, "unknown opcode %u", in->op);
    const OpInfo *oi = &op_info[in->op];
    if (!operand(v, fn, pc, p, oi->a, in->a, "A")) return false;
    if (oi->bx != OK_NONE) {
      if (!operand(v, fn, pc, p, oi->bx, in->bx, "Bx")) return false;
    } else {
      int64_t b = oi->b == OK_SIMM ? (int16_t)in->b : in->b;
      if (!operand(v, fn, pc, p, oi->b, b, "B")) return false;
      if (!operand(v, fn, pc, p, oi->c, in->c, "C")) return false;
    }
    if (!ranges(v, fn, pc, p)) return false;
    const LineInfo *l = &p->lines[pc];
    if (!span_ok(l))
      return bad(v, fn, pc, "line table: bad source span %d:%d-%d:%d", l->line, l->col, l->end_line, l->end_col);
  }
  /* Calling an unsafe instruction held as a value needs no AVM opcode. */
  if (!(v->m->flags & MODULE_UNSAFE))
    for (uint32_t j = 0; j < p->nk; j++) {
      int in = unsafe_constant(p->k[j]);
      if (in >= 0)
        return bad(v, fn, 0, "constant %u is the unsafe instruction %s in a module not marked unsafe", j,
                   instr_info[in].name);
    }
  /* A child's upvalues must come from this function's registers/upvalues. */
  for (uint32_t c = 0; c < p->nprotos; c++) {
    const Proto *ch = p->protos[c];
    for (uint32_t u = 0; u < ch->nup; u++) {
      if (ch->up[u].from_reg ? ch->up[u].index >= p->nregs : ch->up[u].index >= p->nup)
        return bad(v, fn, 0, "child function %u captures an out-of-range %s", c,
                   ch->up[u].from_reg ? "register" : "upvalue");
    }
  }
  return true;
}

bool vm_verify(const Module *m, char *err, size_t errlen) {
  V v = { m, err, errlen };
  const Proto *main = m->protos[0];
  if (main->nparams || main->rest || main->nup)
    return bad(&v, 0, 0, "the top-level function must take no arguments and capture nothing");
  for (uint32_t j = 0; j < m->nprotos; j++)
    if (!verify_proto(&v, j, m->protos[j])) return false;
  for (uint32_t j = 0; j < m->ndecls; j++) {
    const Proto *p = m->protos[m->decls[j].proto];
    if (p->nup) return bad(&v, m->decls[j].proto, 0, "a declared procedure cannot capture variables");
    if (m->decls[j].kind == DECL_BEHAVIOR && (p->nparams != 1 || p->rest))
      return bad(&v, m->decls[j].proto, 0, "a behavior takes exactly one message");
  }
  return true;
}
