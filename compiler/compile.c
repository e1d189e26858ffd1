/* compiler/compile.c — scope resolution, closure conversion, register
 * allocation and tape emission, in one pass over the core language.
 *
 * Registers are allocated like Lua's: each function's locals and
 * temporaries live in a window R[0..nregs-1]; a local owns its register for
 * its scope, temporaries are freed as soon as their value is used.
 * Closures are flat: a CLOSURE copies the captured values (the language has
 * no mutation), and letrec patches the closures it creates (SETUPV).
 * Calls in tail position become TAILCALL; a named let whose name is only
 * called in tail position compiles to a loop with no call at all; a match
 * clause takes its value apart in place, one cdr per list cell. */
#include <gc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "compiler/compiler.h"
#include "util/suggest.h"

#define MAX_REGS 65000

typedef struct Loop {
  Symbol *name;
  int nparams;
  int first;          /* register of the first parameter */
  uint32_t label;     /* pc of the loop head */
  struct Loop *next;
} Loop;

typedef struct Ctx {
  bool tail;          /* the value is the function's result */
  Loop *loops;        /* loops whose tail position this is */
} Ctx;

typedef struct Var {
  Symbol *name;
  int reg;
  Loop *loop;         /* non-NULL: the name of a compiled loop */
  bool reassigned;    /* a loop parameter: its register changes at each jump */
} Var;

/* What a top-level procedure's tree uses, for the purity check. */
typedef struct Use { Symbol *name; Loc loc; bool instr; struct Use *next; } Use;
typedef struct TopInfo { Symbol *global; Use *uses; } TopInfo;

typedef struct Comp Comp;

typedef struct FuncState {
  Comp *c;
  struct FuncState *parent;
  Instr *code;
  LineInfo *lines;
  uint32_t ncode, capcode;
  Value *k;
  uint32_t nk, capk;
  Proto **children;
  uint32_t nchildren, capchildren;
  UpvalDesc *up;
  Symbol **upnames;
  uint32_t nup, capup;
  Var *vars;
  int nvars;
  uint32_t capvars;
  int freereg, maxreg;
  Symbol *pure_name;  /* inside (pure NAME ...) */
  TopInfo *top;
} FuncState;

struct Comp {
  Diag *d;
  VM *vm;
  Module *m;
  const CompOptions *opt;
  uint32_t capglobals;
  uint32_t *gindex;   /* hash: symbol -> module global index + 1 */
  uint32_t gindex_cap;
  Proto **protos;
  uint32_t capprotos;
  TopInfo **tops;
  int ntops;
  uint32_t captops;
  bool failed_regs;
};

#define GROW(ptr, n, cap, init)                                        \
  do {                                                                 \
    if ((n) >= (cap)) {                                                \
      size_t nc_ = (cap) ? (size_t)(cap) * 2 : (init);                 \
      void *np_ = GC_MALLOC(nc_ * sizeof *(ptr));                      \
      if ((n)) memcpy(np_, (ptr), (size_t)(n) * sizeof *(ptr));        \
      (ptr) = np_;                                                     \
      (cap) = nc_;                                                     \
    }                                                                  \
  } while (0)

/* {===== Module globals =====} */

static uint32_t global_index(Comp *c, Symbol *s) {
  Module *m = c->m;
  if ((m->nglobals + 1) * 2 > c->gindex_cap) {
    uint32_t cap = c->gindex_cap ? c->gindex_cap * 2 : 64;
    free(c->gindex);
    c->gindex = calloc(cap, sizeof *c->gindex);
    if (!c->gindex) abort();
    c->gindex_cap = cap;
    for (uint32_t g = 0; g < m->nglobals; g++) {
      uint32_t j = m->globals[g]->hash & (cap - 1);
      while (c->gindex[j]) j = (j + 1) & (cap - 1);
      c->gindex[j] = g + 1;
    }
  }
  uint32_t mask = c->gindex_cap - 1, j = s->hash & mask;
  for (; c->gindex[j]; j = (j + 1) & mask)
    if (m->globals[c->gindex[j] - 1] == s) return c->gindex[j] - 1;
  GROW(m->globals, m->nglobals, c->capglobals, 64);
  uint8_t *nf = GC_MALLOC_ATOMIC(c->capglobals);
  if (m->nglobals) memcpy(nf, m->gflags, m->nglobals);
  m->gflags = nf;
  m->globals[m->nglobals] = s;
  m->gflags[m->nglobals] = 0;
  c->gindex[j] = m->nglobals + 1;
  return m->nglobals++;
}

static bool defined_here(Comp *c, Symbol *s) {
  uint32_t mask = c->gindex_cap - 1;
  if (!c->gindex_cap) return false;
  for (uint32_t j = s->hash & mask; c->gindex[j]; j = (j + 1) & mask)
    if (c->m->globals[c->gindex[j] - 1] == s) return c->m->gflags[c->gindex[j] - 1] & GF_DEFINED;
  return false;
}

/* The value a global has in the VM before this module runs (UNDEF if none). */
static Value vm_global_value(Comp *c, Symbol *s) {
  size_t slot;
  if (vm_global_lookup(c->vm, s, &slot)) return c->vm->globals.values[slot];
  return v_undef();
}

/* The primitive (or AVM instruction) a global name still denotes, or -1. */
static int prim_of(Comp *c, Symbol *s) {
  if (defined_here(c, s)) return -1;
  Value v = vm_global_value(c, s);
  return v.tag == T_PRIM ? (int)v.as.u : -1;
}

static int builtin_prim(Symbol *s) {
  for (int j = 0; j < PRIM__COUNT; j++)
    if (strcmp(prim_info[j].name, s->name) == 0) return j;
  return -1;
}

/* {===== Emission =====} */

static uint32_t emit(FuncState *fs, Instr in, Loc loc) {
  if (fs->ncode == fs->capcode) {
    uint32_t cap = fs->capcode ? fs->capcode * 2 : 32;
    Instr *nc = GC_MALLOC_ATOMIC(cap * sizeof *nc);
    LineInfo *nl = GC_MALLOC_ATOMIC(cap * sizeof *nl);
    if (fs->ncode) {
      memcpy(nc, fs->code, fs->ncode * sizeof *nc);
      memcpy(nl, fs->lines, fs->ncode * sizeof *nl);
    }
    fs->code = nc;
    fs->lines = nl;
    fs->capcode = cap;
  }
  fs->code[fs->ncode] = in;
  fs->lines[fs->ncode] = (LineInfo){ loc.line, loc.col, loc.end_line, loc.end_col };
  return fs->ncode++;
}

static Instr iABC(int op, int a, int b, int c) { return instr_abc(op, a, b, c, 0); }
static Instr iABx(int op, int a, int32_t bx) { return instr_abx(op, a, bx); }

static Instr with_x(Instr in, int x) {
  in.x = (uint8_t)x;
  return in;
}

static uint32_t emit_jump(FuncState *fs, Loc loc) { return emit(fs, iABx(OP_JMP, 0, 0), loc); }

static void patch_to(FuncState *fs, uint32_t jmp, uint32_t target) {
  fs->code[jmp].bx = (int32_t)target - (int32_t)(jmp + 1);
}
static void patch_here(FuncState *fs, uint32_t jmp) { patch_to(fs, jmp, fs->ncode); }

static int alloc_reg(FuncState *fs, Loc loc) {
  int r = fs->freereg++;
  if (fs->freereg > fs->maxreg) fs->maxreg = fs->freereg;
  if (fs->freereg > MAX_REGS && !fs->c->failed_regs) {
    fs->c->failed_regs = true;
    diag_error(fs->c->d, loc, "function too large: more than %d registers", MAX_REGS);
  }
  return r;
}

static uint32_t add_const(FuncState *fs, Value v) {
  if (v.tag == T_INT || v.tag == T_BOOL || v.tag == T_SYM || v.tag == T_PRIM || v.tag == T_STR)
    for (uint32_t j = 0; j < fs->nk; j++)
      if (fs->k[j].tag == v.tag && (v.tag == T_STR ? v_equal(fs->k[j], v) : fs->k[j].as.u == v.as.u)) return j;
  GROW(fs->k, fs->nk, fs->capk, 8);
  fs->k[fs->nk] = v;
  return fs->nk++;
}

/* Converts a quoted datum to a value (lists built at compile time). */
static Value datum_value(const Syntax *s) {
  switch (s->kind) {
    case SX_INT: return v_int(s->u.i);
    case SX_BOOL: return v_bool(s->u.b);
    case SX_SYM: return v_sym(s->u.sym);
    case SX_STR: return v_string(s->u.str.s, s->u.str.len);
    case SX_LIST: break;
  }
  Value tail = s->u.list.tail ? datum_value(s->u.list.tail) : v_nil();
  for (int j = s->u.list.n - 1; j >= 0; j--) tail = v_cons(datum_value(s->u.list.items[j]), tail);
  return tail;
}

static void load_value(FuncState *fs, Value v, int dst, Loc loc) {
  switch (v.tag) {
    case T_NIL: emit(fs, iABC(OP_LOADNIL, dst, 0, 0), loc); return;
    case T_BOOL: emit(fs, iABC(v.as.b ? OP_LOADTRUE : OP_LOADFALSE, dst, 0, 0), loc); return;
    case T_UNSPEC: emit(fs, iABC(OP_LOADUNSPEC, dst, 0, 0), loc); return;
    case T_NOTHING: emit(fs, iABC(OP_LOADNOTHING, dst, 0, 0), loc); return;
    case T_INT:
      if (v.as.i >= INT32_MIN && v.as.i <= INT32_MAX) {
        emit(fs, iABx(OP_LOADI, dst, (int32_t)v.as.i), loc);
        return;
      }
      break;
    default: break;
  }
  emit(fs, iABx(OP_LOADK, dst, (int32_t)add_const(fs, v)), loc);
}

/* {===== Scopes =====} */

static void push_var(FuncState *fs, Symbol *name, int reg, Loop *loop) {
  GROW(fs->vars, (uint32_t)fs->nvars, fs->capvars, 16);
  fs->vars[fs->nvars++] = (Var){ name, reg, loop, false };
}

/* The register of the innermost local named [name], or -1. */
static int local_reg(FuncState *fs, Symbol *name) {
  for (int j = fs->nvars - 1; j >= 0; j--)
    if (fs->vars[j].name == name) return fs->vars[j].loop ? -1 : fs->vars[j].reg;
  return -1;
}

static bool is_var_reg(FuncState *fs, int reg) {
  for (int j = 0; j < fs->nvars; j++)
    if (!fs->vars[j].loop && fs->vars[j].reg == reg) return true;
  return false;
}

typedef enum { RES_LOCAL, RES_UPVAL, RES_GLOBAL, RES_LOOP } ResKind;

static int add_upval(FuncState *fs, Symbol *name, bool from_reg, int index) {
  for (uint32_t j = 0; j < fs->nup; j++)
    if (fs->upnames[j] == name && fs->up[j].from_reg == from_reg && fs->up[j].index == index) return (int)j;
  uint32_t cap = fs->capup;
  GROW(fs->up, fs->nup, cap, 8);
  uint32_t cap2 = fs->capup;
  GROW(fs->upnames, fs->nup, cap2, 8);
  fs->capup = cap;
  fs->up[fs->nup] = (UpvalDesc){ (uint8_t)from_reg, (uint16_t)index };
  fs->upnames[fs->nup] = name;
  return (int)fs->nup++;
}

static ResKind resolve(FuncState *fs, Symbol *name, int *idx, Loop **loop) {
  for (int j = fs->nvars - 1; j >= 0; j--)
    if (fs->vars[j].name == name) {
      if (fs->vars[j].loop) {
        *loop = fs->vars[j].loop;
        return RES_LOOP;
      }
      *idx = fs->vars[j].reg;
      return RES_LOCAL;
    }
  if (!fs->parent) return RES_GLOBAL;
  int pidx;
  Loop *pl;
  ResKind pk = resolve(fs->parent, name, &pidx, &pl);
  if (pk == RES_GLOBAL || pk == RES_LOOP) return RES_GLOBAL;
  *idx = add_upval(fs, name, pk == RES_LOCAL, pidx);
  return RES_UPVAL;
}

static void note_use(FuncState *fs, Symbol *name, Loc loc, bool instr) {
  if (!fs->top) return;
  Use *u = GC_MALLOC(sizeof *u);
  *u = (Use){ name, loc, instr, fs->top->uses };
  fs->top->uses = u;
}

/* Checks an AVM instruction use against pure and unsafe rules. */
static void check_instr(FuncState *fs, int in, Loc loc) {
  Comp *c = fs->c;
  const InstrInfo *ii = &instr_info[in];
  if (fs->pure_name)
    diag_error(c->d, loc, "pure function '%s' uses AVM instruction '%s'", fs->pure_name->name, ii->name);
  if (ii->safety == UNSAFE) {
    if (c->opt && c->opt->allow_unsafe) c->m->flags |= MODULE_UNSAFE;
    else diag_error(c->d, loc, "unsafe instruction '%s' requires --allow-unsafe", ii->name);
  }
  note_use(fs, sym_intern_cstr(ii->name), loc, true);
}

/* {===== Unbound variables =====} */

/* What a "did you mean" suggestion is: a misspelt special form's operands
 * are not expressions, so their own errors would only be noise. */
enum { SUG_LOCAL, SUG_GLOBAL, SUG_FORM };

static bool is_local(FuncState *fs, Symbol *name) {
  for (FuncState *f = fs; f; f = f->parent)
    for (int j = f->nvars - 1; j >= 0; j--)
      if (f->vars[j].name == name) return true;
  return false;
}

/* Whether [e] names a variable bound nowhere: no local, no definition in
 * this module, no global of the VM (prelude, primitives, instructions). */
static bool is_unbound_ref(FuncState *fs, const Core *e) {
  if (e->kind != CK_REF || e->u.ref.builtin || is_local(fs, e->u.ref.name)) return false;
  return !defined_here(fs->c, e->u.ref.name) && vm_global_value(fs->c, e->u.ref.name).tag == T_UNDEF;
}

/* Offers every name the code at [fs] could mean, nearest scope first:
 * locals from the innermost out, the module's definitions, the VM's
 * globals (prelude, primitives, AVM instructions), the special forms. */
static void suggest_in_scope(FuncState *fs, Suggest *s) {
  for (FuncState *f = fs; f; f = f->parent)
    for (int j = f->nvars - 1; j >= 0; j--) suggest_consider(s, f->vars[j].name->name, SUG_LOCAL);
  Module *m = fs->c->m;
  for (uint32_t g = 0; g < m->nglobals; g++)
    if (m->gflags[g] & GF_DEFINED) suggest_consider(s, m->globals[g]->name, SUG_GLOBAL);
  const Globals *vg = &fs->c->vm->globals;
  for (size_t g = 0; g < vg->count; g++)
    if (vg->values[g].tag != T_UNDEF) suggest_consider(s, vg->names[g]->name, SUG_GLOBAL);
  for (int j = 0; j < desugar_nspecial_forms; j++)
    if (desugar_special_forms[j]) suggest_consider(s, desugar_special_forms[j], SUG_FORM);
}

static void __attribute__((format(printf, 3, 4))) warn(Diag *d, Loc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_verror(d, loc, "warning", fmt, ap);
  va_end(ap);
}

/* With open_globals (the REPL) a procedure may use a name no input has
 * defined yet, since a later one can define it before the procedure runs:
 * a warning then, and a lookup at run time. */
static bool defers_unbound(FuncState *fs) {
  return fs->c->opt && fs->c->opt->open_globals && fs->parent;
}

/* Reports [name] unbound at [loc], with a note naming the closest name in
 * scope if one is close enough; returns that name's SUG_* kind, or -1. */
static int report_unbound(FuncState *fs, Symbol *name, Loc loc) {
  Suggest s;
  suggest_init(&s, name->name);
  suggest_in_scope(fs, &s);
  diag_error(fs->c->d, loc, "unbound variable '%s'", name->name);
  if (!s.best) return -1;
  diag_note(fs->c->d, loc, "did you mean '%s'?", s.best);
  return s.best_kind;
}

/* {===== Expressions =====} */

static void compile(FuncState *fs, Core *e, int dst, const Ctx *ctx);
static uint32_t compile_lambda(FuncState *fs, Core *e, Symbol *pure_name, TopInfo *top);

static const Ctx NONTAIL = { false, NULL };

/* Where a value goes: [dst], or a fresh temporary returned by RET. */
static int target(FuncState *fs, int dst, const Ctx *ctx, Loc loc) {
  return ctx->tail ? alloc_reg(fs, loc) : dst;
}
static void finish(FuncState *fs, int r, const Ctx *ctx, Loc loc) {
  if (ctx->tail) {
    emit(fs, iABC(OP_RET, r, 0, 0), loc);
    fs->freereg--;
  }
}

/* Compiles [e] into some register: a local's own, or a new temporary. */
static int expr_any(FuncState *fs, Core *e) {
  if (e->kind == CK_REF && !e->u.ref.builtin) {
    int reg = local_reg(fs, e->u.ref.name);
    if (reg >= 0) return reg;
  }
  int r = alloc_reg(fs, e->loc);
  compile(fs, e, r, &NONTAIL);
  return r;
}



static void compile_ref(FuncState *fs, Core *e, int dst, const Ctx *ctx) {
  Comp *c = fs->c;
  Symbol *name = e->u.ref.name;
  int r = target(fs, dst, ctx, e->loc);
  if (e->u.ref.builtin) {
    int p = builtin_prim(name);
    load_value(fs, v_prim((unsigned)(p < 0 ? 0 : p)), r, e->loc);
    finish(fs, r, ctx, e->loc);
    return;
  }
  int idx;
  Loop *loop;
  switch (resolve(fs, name, &idx, &loop)) {
    case RES_LOCAL:
      if (idx != r) emit(fs, iABC(OP_MOVE, r, idx, 0), e->loc);
      break;
    case RES_UPVAL:
      emit(fs, iABC(OP_GETUPV, r, idx, 0), e->loc);
      break;
    case RES_LOOP:
      diag_error(c->d, e->loc, "internal error: loop '%s' used as a value", name->name);
      break;
    case RES_GLOBAL: {
      int p = prim_of(c, name);
      if (p >= PRIM__COUNT) check_instr(fs, p - PRIM__COUNT, e->loc);
      else if (!defined_here(c, name) && vm_global_value(c, name).tag == T_UNDEF)
        if (defers_unbound(fs)) warn(c->d, e->loc, "'%s' is not defined yet", name->name);
        else report_unbound(fs, name, e->loc);
      else
        note_use(fs, name, e->loc, false);
      emit(fs, iABx(OP_GETGLOBAL, r, (int32_t)global_index(c, name)), e->loc);
      break;
    }
  }
  finish(fs, r, ctx, e->loc);
}

/* A small integer literal usable as an ADDI immediate. */
static bool small_int(const Core *e, int64_t *out) {
  if (e->kind != CK_CONST || !e->u.konst.datum || e->u.konst.datum->kind != SX_INT) return false;
  int64_t v = e->u.konst.datum->u.i;
  if (v < INT16_MIN || v > INT16_MAX) return false;
  *out = v;
  return true;
}

static bool int_const(const Core *e, int64_t *out) {
  if (e->kind != CK_CONST || !e->u.konst.datum || e->u.konst.datum->kind != SX_INT) return false;
  *out = e->u.konst.datum->u.i;
  return true;
}

/* Which primitive a call's operator denotes, or -1 for an ordinary call. */
static int call_prim(FuncState *fs, Core *fn) {
  if (fn->kind != CK_REF) return -1;
  if (fn->u.ref.builtin) return builtin_prim(fn->u.ref.name);
  if (is_local(fs, fn->u.ref.name)) return -1;
  return prim_of(fs->c, fn->u.ref.name);
}

static bool check_arity(FuncState *fs, const char *name, int mn, int mx, int argc, Loc loc) {
  if (argc >= mn && (mx < 0 || argc <= mx)) return true;
  if (mx < 0)
    diag_error(fs->c->d, loc, "%s: wrong number of arguments (expected at least %d, got %d)", name, mn, argc);
  else if (mn == mx)
    diag_error(fs->c->d, loc, "%s: wrong number of arguments (expected %d, got %d)", name, mn, argc);
  else
    diag_error(fs->c->d, loc, "%s: wrong number of arguments (expected %d to %d, got %d)", name, mn, mx, argc);
  return false;
}

/* Evaluates [n] expressions into consecutive fresh registers. */
static int args_to_regs(FuncState *fs, Core **args, int n, Loc loc) {
  int base = fs->freereg;
  for (int j = 0; j < n; j++) compile(fs, args[j], alloc_reg(fs, loc), &NONTAIL);
  return base;
}

/* The arguments of a primitive or AVM instruction, which only reads them:
 * where they are locals in consecutive registers, in order (as a pattern's
 * variables are), the locals' own registers, with no copy; else placed
 * from its result register [r] on when nothing lives above it and it is
 * not a variable: the instruction reads its arguments before it writes the
 * result, so the two may share registers, and the frame stays smaller. */
/* The register of the first of [n] arguments that are locals in
 * consecutive registers, in order; -1 if they are not. */
static int locals_in_order(FuncState *fs, Core **args, int n) {
  int first = -1;
  for (int j = 0; j < n; j++) {
    int reg = args[j]->kind == CK_REF && !args[j]->u.ref.builtin ? local_reg(fs, args[j]->u.ref.name) : -1;
    if (reg < 0 || (j > 0 && reg != first + j)) return -1;
    if (j == 0) first = reg;
  }
  return first;
}

static int args_from_result(FuncState *fs, int r, Core **args, int n, Loc loc) {
  if (n == 0) return 0;
  int in_place = locals_in_order(fs, args, n);
  if (in_place >= 0) return in_place;
  if (r == fs->freereg - 1 && !is_var_reg(fs, r)) fs->freereg = r;
  return args_to_regs(fs, args, n, loc);
}

/* Binary fast opcodes: (+ a b), (< a b), (cons a b), ... */
static bool compile_binop(FuncState *fs, Core *e, int p, int dst, const Ctx *ctx) {
  Core **a = e->u.call.args;
  int n = e->u.call.nargs, save = fs->freereg;
  int64_t imm;
  int op = -1;
  bool swap = false;
  switch (p) {
    case PR_add: op = OP_ADD; break;
    case PR_sub: op = OP_SUB; break;
    case PR_mul: op = OP_MUL; break;
    case PR_lt: op = OP_LT; break;
    case PR_le: op = OP_LE; break;
    case PR_gt: op = OP_LT; swap = true; break;
    case PR_ge: op = OP_LE; swap = true; break;
    case PR_numeq: op = OP_NUMEQ; break;
    case PR_eqp: case PR_eqvp: op = OP_EQ; break;
    case PR_cons: op = OP_CONS; break;
    default: return false;
  }
  if (n != 2) return false;
  int r = target(fs, dst, ctx, e->loc);
  if ((op == OP_ADD || op == OP_SUB) && small_int(a[1], &imm) && (op == OP_ADD || imm != INT16_MIN)) {
    int rb = expr_any(fs, a[0]);
    emit(fs, with_x(iABC(OP_ADDI, r, rb, (uint16_t)(int16_t)(op == OP_ADD ? imm : -imm)), op == OP_SUB), e->loc);
  } else if (op == OP_ADD && small_int(a[0], &imm)) {
    int rb = expr_any(fs, a[1]);
    emit(fs, iABC(OP_ADDI, r, rb, (uint16_t)(int16_t)imm), e->loc);
  } else {
    int rb = expr_any(fs, a[0]);
    int rc = expr_any(fs, a[1]);
    emit(fs, iABC(op, r, swap ? rc : rb, swap ? rb : rc), e->loc);
  }
  fs->freereg = save + (ctx->tail ? 1 : 0);
  finish(fs, r, ctx, e->loc);
  return true;
}

static bool compile_unop(FuncState *fs, Core *e, int p, int dst, const Ctx *ctx) {
  int op;
  switch (p) {
    case PR_not: op = OP_NOT; break;
    case PR_nullp: op = OP_NULLP; break;
    case PR_pairp: op = OP_PAIRP; break;
    case PR_car: op = OP_CAR; break;
    case PR_cdr: op = OP_CDR; break;
    default: return false;
  }
  if (e->u.call.nargs != 1) return false;
  int save = fs->freereg;
  int r = target(fs, dst, ctx, e->loc);
  int rb = expr_any(fs, e->u.call.args[0]);
  emit(fs, iABC(op, r, rb, 0), e->loc);
  fs->freereg = save + (ctx->tail ? 1 : 0);
  finish(fs, r, ctx, e->loc);
  return true;
}

static void compile_loop_jump(FuncState *fs, Core *e, Loop *l);

static void compile_call(FuncState *fs, Core *e, int dst, const Ctx *ctx) {
  Comp *c = fs->c;
  Core *fn = e->u.call.fn;
  int n = e->u.call.nargs, save = fs->freereg;
  if (fn->kind == CK_REF && !fn->u.ref.builtin) {
    Loop *loop = NULL;
    bool is_local = false;
    for (FuncState *f = fs; f && !is_local; f = f->parent)
      for (int j = f->nvars - 1; j >= 0; j--)
        if (f->vars[j].name == fn->u.ref.name) {
          is_local = true;
          if (f == fs) loop = f->vars[j].loop;
          break;
        }
    if (loop) {
      for (Loop *l = ctx->loops; l; l = l->next)
        if (l == loop) {
          compile_loop_jump(fs, e, loop);
          return;
        }
      diag_error(c->d, e->loc, "internal error: loop call outside tail position");
      return;
    }
    /* (return v) is v, unless return has been rebound. */
    if (!is_local && n == 1 && fn->u.ref.name == sym_intern_cstr("return") &&
        !defined_here(c, fn->u.ref.name)) {
      compile(fs, e->u.call.args[0], dst, ctx);
      return;
    }
  }
  int p = call_prim(fs, fn);
  if (p >= PRIM__COUNT) {
    int in = p - PRIM__COUNT;
    const InstrInfo *ii = &instr_info[in];
    check_instr(fs, in, e->loc);
    if (!check_arity(fs, ii->name, ii->min_args, ii->max_args, n, e->loc)) return;
    int r = target(fs, dst, ctx, e->loc);
    int base = args_from_result(fs, r, e->u.call.args, n, e->loc);
    emit(fs, with_x(iABC(OP_AVM, r, base, in), n), e->loc);
    fs->freereg = save + (ctx->tail ? 1 : 0);
    finish(fs, r, ctx, e->loc);
    return;
  }
  if (p >= 0) {
    const PrimInfo *pi = &prim_info[p];
    if (!check_arity(fs, pi->name, pi->min_args, pi->max_args, n, e->loc)) return;
    if (compile_binop(fs, e, p, dst, ctx) || compile_unop(fs, e, p, dst, ctx)) return;
    if (p != PR_apply && n <= 255) {
      int r = target(fs, dst, ctx, e->loc);
      int base = args_from_result(fs, r, e->u.call.args, n, e->loc);
      emit(fs, with_x(iABC(OP_PRIM, r, base, p), n), e->loc);
      fs->freereg = save + (ctx->tail ? 1 : 0);
      finish(fs, r, ctx, e->loc);
      return;
    }
    if (p == PR_apply) {
      /* (apply f a ... lst): f in base, the rest after it. */
      int base = (!ctx->tail && dst == fs->freereg - 1 && !is_var_reg(fs, dst)) ? dst : alloc_reg(fs, e->loc);
      if (base != dst || ctx->tail) fs->freereg = base + 1;
      args_to_regs(fs, e->u.call.args, n, e->loc);
      /* args_to_regs put f at base+1: shift the window by one. */
      for (int j = 0; j < n; j++) emit(fs, iABC(OP_MOVE, base + j, base + 1 + j, 0), e->loc);
      emit(fs, iABC(ctx->tail ? OP_TAILAPPLY : OP_APPLY, base, n - 1, 0), e->loc);
      if (!ctx->tail && base != dst) emit(fs, iABC(OP_MOVE, dst, base, 0), e->loc);
      fs->freereg = save;
      return;
    }
  }
  if (is_unbound_ref(fs, fn) && !defers_unbound(fs)) {
    /* (defin (f x) ...): one error for the head, none for what follows. */
    if (report_unbound(fs, fn->u.ref.name, fn->loc) != SUG_FORM)
      for (int j = 0; j < n; j++) compile(fs, e->u.call.args[j], alloc_reg(fs, e->loc), &NONTAIL);
    fs->freereg = save;
    return;
  }
  /* An ordinary call: callee and arguments in consecutive registers. */
  int base;
  /* The destination doubles as the call window when nothing lives above it
   * and it is not a variable (a loop argument may target its variable). */
  if (!ctx->tail && dst == fs->freereg - 1 && !is_var_reg(fs, dst)) base = dst;
  else base = alloc_reg(fs, e->loc);
  compile(fs, fn, base, &NONTAIL);
  for (int j = 0; j < n; j++) compile(fs, e->u.call.args[j], alloc_reg(fs, e->loc), &NONTAIL);
  if (ctx->tail) {
    emit(fs, iABC(OP_TAILCALL, base, n, 0), e->loc);
  } else {
    emit(fs, iABC(OP_CALL, base, n, 0), e->loc);
    if (base != dst) emit(fs, iABC(OP_MOVE, dst, base, 0), e->loc);
  }
  fs->freereg = save;
}

/* {===== Conditionals =====} */

typedef struct Jumps { uint32_t pc[64]; int n; struct Jumps *more; } Jumps;

static void jumps_add(Jumps *j, uint32_t pc) {
  while (j->n == 64) {
    if (!j->more) {
      j->more = GC_MALLOC(sizeof *j->more);
    }
    j = j->more;
  }
  j->pc[j->n++] = pc;
}

static void jumps_patch_here(FuncState *fs, Jumps *j) {
  for (; j; j = j->more)
    for (int k = 0; k < j->n; k++) patch_here(fs, j->pc[k]);
}

static bool is_const_bool(const Core *e, bool b) {
  return e->kind == CK_CONST && e->u.konst.datum && e->u.konst.datum->kind == SX_BOOL && e->u.konst.datum->u.b == b;
}

/* Emits code that jumps (to be patched via [out]) when the truth of [e]
 * equals [sense], and falls through otherwise. */
static void cond_jump(FuncState *fs, Core *e, bool sense, Jumps *out) {
  int save = fs->freereg;
  if (e->kind == CK_IF && is_const_bool(e->u.ifx.els, false)) {
    /* (and a b) */
    if (!sense) {
      cond_jump(fs, e->u.ifx.test, false, out);
      cond_jump(fs, e->u.ifx.then, false, out);
    } else {
      Jumps skip = { .n = 0 };
      cond_jump(fs, e->u.ifx.test, false, &skip);
      cond_jump(fs, e->u.ifx.then, true, out);
      jumps_patch_here(fs, &skip);
    }
    return;
  }
  if (e->kind == CK_CALL) {
    int p = call_prim(fs, e->u.call.fn);
    int n = e->u.call.nargs;
    Core **a = e->u.call.args;
    if (p == PR_not && n == 1) {
      cond_jump(fs, a[0], !sense, out);
      return;
    }
    int op = -1;
    switch (p) {
      case PR_lt: op = OP_JLT; break;
      case PR_le: op = OP_JLE; break;
      case PR_gt: op = OP_JGT; break;
      case PR_ge: op = OP_JGE; break;
      case PR_numeq: op = OP_JNUMEQ; break;
      case PR_eqp: case PR_eqvp: op = OP_JEQ; break;
      case PR_nullp: op = OP_JNULL; break;
      case PR_pairp: op = OP_JPAIR; break;
      default: break;
    }
    if (op == OP_JNULL || op == OP_JPAIR) {
      if (n == 1) {
        int ra = expr_any(fs, a[0]);
        emit(fs, with_x(iABC(op, ra, 0, 0), sense), e->loc);
        jumps_add(out, emit_jump(fs, e->loc));
        fs->freereg = save;
        return;
      }
    } else if (op >= 0 && n == 2) {
      int ra = expr_any(fs, a[0]);
      int64_t kv;
      int x = sense ? 1 : 0, rb;
      bool sym_const = op == OP_JEQ && a[1]->kind == CK_CONST && a[1]->u.konst.datum &&
                       a[1]->u.konst.datum->kind == SX_SYM;
      if ((int_const(a[1], &kv) && op != OP_JEQ) || sym_const) {
        rb = (int)add_const(fs, sym_const ? v_sym(a[1]->u.konst.datum->u.sym) : v_int(kv));
        if (rb <= 0xFFFF) x |= 2;
        else rb = expr_any(fs, a[1]);
      } else {
        rb = expr_any(fs, a[1]);
      }
      emit(fs, with_x(iABC(op, ra, rb, 0), x), e->loc);
      jumps_add(out, emit_jump(fs, e->loc));
      fs->freereg = save;
      return;
    }
  }
  int r = expr_any(fs, e);
  jumps_add(out, emit(fs, iABx(sense ? OP_JMPT : OP_JMPF, r, 0), e->loc));
  fs->freereg = save;
}

static void compile_if(FuncState *fs, Core *e, int dst, const Ctx *ctx) {
  Jumps to_else = { .n = 0 };
  cond_jump(fs, e->u.ifx.test, false, &to_else);
  compile(fs, e->u.ifx.then, dst, ctx);
  uint32_t to_end = 0;
  if (!ctx->tail) to_end = emit_jump(fs, e->loc);
  jumps_patch_here(fs, &to_else);
  compile(fs, e->u.ifx.els, dst, ctx);
  if (!ctx->tail) patch_here(fs, to_end);
}

/* {===== match clauses =====} */

/* A clause tests its pattern on the subject's register in place: each
 * pair is tested and taken apart once, a list is walked with one cursor
 * register that each cdr overwrites, and a variable's value is loaded
 * straight into the variable's register.  The variables' registers come
 * first, so the temporaries above them are free again for the body.  A
 * variable the body never mentions is not loaded at all, as if it were _.
 * A failing test jumps to the else branch (the next clause), where
 * nothing the clause bound is in scope. */

typedef struct Matcher {
  Jumps *fail;        /* the jumps to the else branch */
  Symbol **vars;      /* the variables loaded; vars[j] lives in first + j */
  int nvars, first;
} Matcher;

/* What of a value a sub-pattern matches. */
typedef enum Field { FIELD_CAR, FIELD_CDR, FIELD_JUST } Field;

static bool occurs(const Core *e, const Symbol *s);

/* Lists, after the [n] of [out] (NULL: counts them only), the variables
 * of [p] that [body] mentions; returns the new count. */
static int used_vars(const Pattern *p, const Core *body, Symbol **out, int n) {
  switch (p->kind) {
    case PAT_VAR:
      if (!occurs(body, p->u.var)) return n;
      if (out) out[n] = p->u.var;
      return n + 1;
    case PAT_JUST: return used_vars(p->u.sub, body, out, n);
    case PAT_LIST:
      for (int j = 0; j < p->u.list.n; j++) n = used_vars(p->u.list.items[j], body, out, n);
      return p->u.list.tail ? used_vars(p->u.list.tail, body, out, n) : n;
    case PAT_ANY: case PAT_EQV: case PAT_EQUAL: case PAT_NOTHING: return n;
  }
  return n;
}

static bool pattern_binds(const Pattern *p, const Symbol *s) {
  switch (p->kind) {
    case PAT_VAR: return p->u.var == s;
    case PAT_JUST: return pattern_binds(p->u.sub, s);
    case PAT_LIST:
      for (int j = 0; j < p->u.list.n; j++)
        if (pattern_binds(p->u.list.items[j], s)) return true;
      return p->u.list.tail && pattern_binds(p->u.list.tail, s);
    case PAT_ANY: case PAT_EQV: case PAT_EQUAL: case PAT_NOTHING: return false;
  }
  return false;
}

/* The register of variable [s], or -1 if it is not loaded. */
static int var_reg(const Matcher *m, const Symbol *s) {
  for (int j = 0; j < m->nvars; j++)
    if (m->vars[j] == s) return m->first + j;
  return -1;
}

/* Whether [p] matches anything without loading it. */
static bool ignores(const Matcher *m, const Pattern *p) {
  return p->kind == PAT_ANY || (p->kind == PAT_VAR && var_reg(m, p->u.var) < 0);
}

/* Test [in] (an instruction that skips the next one, a JMP, when it
 * passes), then that jump to the else branch, taken when it fails. */
static void fail_unless_in(FuncState *fs, Matcher *m, Instr in, Loc loc) {
  emit(fs, in, loc);
  jumps_add(m->fail, emit_jump(fs, loc));
}

/* [op] (JPAIR, JNULL or JEQ with RK[b] as [x] says). */
static void fail_unless(FuncState *fs, Matcher *m, int op, int r, int b, int x, Loc loc) {
  fail_unless_in(fs, m, with_x(iABC(op, r, b, 0), x), loc);
}

/* Jumps to the else branch unless ([prim] R[r]) is true, computed into
 * [scratch], or a temporary when scratch is -1. */
static void fail_unless_prim(FuncState *fs, Matcher *m, int prim, int r, int scratch, Loc loc) {
  int save = fs->freereg, t = scratch >= 0 ? scratch : alloc_reg(fs, loc);
  emit(fs, with_x(iABC(OP_PRIM, t, r, prim), 1), loc);
  jumps_add(m->fail, emit(fs, iABx(OP_JMPF, t, 0), loc));
  fs->freereg = save;
}

/* Jumps to the else branch unless R[r] is the datum of [p]: () by JNULL,
 * other atoms by JEQ against a constant, the rest by equal?. */
static void match_datum(FuncState *fs, Matcher *m, const Pattern *p, int r) {
  int save = fs->freereg;
  Value v = datum_value(p->u.datum);
  if (p->kind == PAT_EQV && v.tag == T_NIL) {
    fail_unless(fs, m, OP_JNULL, r, 0, 0, p->loc);
  } else if (p->kind == PAT_EQV) {
    uint32_t k = add_const(fs, v);
    if (k <= 0xFFFF) {
      fail_unless(fs, m, OP_JEQ, r, (int)k, 2, p->loc);
    } else {
      int t = alloc_reg(fs, p->loc);
      load_value(fs, v, t, p->loc);
      fail_unless(fs, m, OP_JEQ, r, t, 0, p->loc);
    }
  } else {
    /* (equal? R[r] datum): both arguments in a window of their own. */
    int t = alloc_reg(fs, p->loc);
    alloc_reg(fs, p->loc);
    emit(fs, iABC(OP_MOVE, t, r, 0), p->loc);
    load_value(fs, v, t + 1, p->loc);
    emit(fs, with_x(iABC(OP_PRIM, t, t, PR_equalp), 2), p->loc);
    jumps_add(m->fail, emit(fs, iABx(OP_JMPF, t, 0), p->loc));
  }
  fs->freereg = save;
}

static void load_field(FuncState *fs, Field f, int dst, int src, Loc loc) {
  if (f == FIELD_JUST) emit(fs, with_x(iABC(OP_PRIM, dst, src, PR_from_just), 1), loc);
  else emit(fs, iABC(f == FIELD_CAR ? OP_CAR : OP_CDR, dst, src, 0), loc);
}

static void match_value(FuncState *fs, Matcher *m, const Pattern *p, int r, bool owned);

/* Matches [p] against the [f] of R[src], loaded only if [p] looks at it:
 * straight into a variable's register, else into [reuse] when the caller
 * is done with that register (-1: it is not), else into a temporary. */
static void match_field(FuncState *fs, Matcher *m, const Pattern *p, Field f, int src, int reuse, Loc loc) {
  if (ignores(m, p)) return;
  int save = fs->freereg;
  int dst = p->kind == PAT_VAR ? var_reg(m, p->u.var) : reuse >= 0 ? reuse : alloc_reg(fs, p->loc);
  load_field(fs, f, dst, src, loc);
  if (p->kind != PAT_VAR) match_value(fs, m, p, dst, true);
  fs->freereg = save;
}

/* (P1 ... Pn . TAIL): a pair test and the car per item, then the cdr into
 * the cursor, which is a temporary of its own from the first cdr on. */
static void match_list(FuncState *fs, Matcher *m, const Pattern *p, int r, bool owned) {
  int save = fs->freereg, n = p->u.list.n;
  const Pattern *tail = p->u.list.tail;
  for (int j = 0; j < n; j++) {
    const Pattern *item = p->u.list.items[j];
    if (!ignores(m, item) && !(j == n - 1 && tail)) {
      /* An item to look at and the rest of the list: one JUNCONS loads
       * both, the item straight into its variable or into a temporary of
       * its own to be tested. */
      int next = owned ? r : alloc_reg(fs, p->loc);
      int keep = fs->freereg;  /* the cursor stays; the item's temporary goes */
      int car = item->kind == PAT_VAR ? var_reg(m, item->u.var) : alloc_reg(fs, item->loc);
      fail_unless_in(fs, m, iABC(OP_JUNCONS, car, next, r), p->loc);
      if (item->kind != PAT_VAR) match_value(fs, m, item, car, true);
      fs->freereg = keep;
      r = next;
      owned = true;
      continue;
    }
    fail_unless(fs, m, OP_JPAIR, r, 0, 0, p->loc);
    match_field(fs, m, p->u.list.items[j], FIELD_CAR, r, -1, p->loc);
    if (j == n - 1 && tail) break;
    int next = owned ? r : alloc_reg(fs, p->loc);
    load_field(fs, FIELD_CDR, next, r, p->loc);
    r = next;
    owned = true;
  }
  if (!tail) fail_unless(fs, m, OP_JNULL, r, 0, 0, p->loc);
  else if (n == 0) match_value(fs, m, tail, r, owned);
  else match_field(fs, m, tail, FIELD_CDR, r, owned ? r : -1, p->loc);
  fs->freereg = save;
}

/* Matches [p] against R[r]; [owned]: r is a temporary of this match that
 * may be overwritten (the subject's register never is). */
static void match_value(FuncState *fs, Matcher *m, const Pattern *p, int r, bool owned) {
  switch (p->kind) {
    case PAT_ANY: return;
    case PAT_VAR:
      if (!ignores(m, p) && var_reg(m, p->u.var) != r) emit(fs, iABC(OP_MOVE, var_reg(m, p->u.var), r, 0), p->loc);
      return;
    case PAT_EQV:
    case PAT_EQUAL: match_datum(fs, m, p, r); return;
    case PAT_NOTHING: fail_unless_prim(fs, m, PR_nothingp, r, owned ? r : -1, p->loc); return;
    case PAT_JUST:
      fail_unless_prim(fs, m, PR_justp, r, -1, p->loc);
      match_field(fs, m, p->u.sub, FIELD_JUST, r, owned ? r : -1, p->loc);
      return;
    case PAT_LIST: match_list(fs, m, p, r, owned); return;
  }
}

static void compile_match(FuncState *fs, Core *e, int dst, const Ctx *ctx) {
  int save = fs->freereg, nvars = fs->nvars;
  Pattern *p = e->u.match.pattern;
  Jumps fail = { .n = 0 };
  int subject = expr_any(fs, e->u.match.subject);
  Matcher m = { &fail, NULL, used_vars(p, e->u.match.then, NULL, 0), fs->freereg };
  m.vars = GC_MALLOC((size_t)(m.nvars ? m.nvars : 1) * sizeof(Symbol *));
  used_vars(p, e->u.match.then, m.vars, 0);
  for (int j = 0; j < m.nvars; j++) alloc_reg(fs, p->loc);
  match_value(fs, &m, p, subject, false);
  for (int j = 0; j < m.nvars; j++) push_var(fs, m.vars[j], m.first + j, NULL);
  compile(fs, e->u.match.then, dst, ctx);
  uint32_t to_end = 0;
  if (!ctx->tail) to_end = emit_jump(fs, e->loc);
  fs->nvars = nvars;
  fs->freereg = save;
  jumps_patch_here(fs, &fail);
  compile(fs, e->u.match.els, dst, ctx);
  if (!ctx->tail) patch_here(fs, to_end);
}

/* {===== Binding forms =====} */

static bool occurs_any(Core **v, int n, const Symbol *s) {
  for (int j = 0; j < n; j++)
    if (occurs(v[j], s)) return true;
  return false;
}

static bool binds(Symbol **names, int n, const Symbol *s) {
  for (int j = 0; j < n; j++)
    if (names[j] == s) return true;
  return false;
}

/* Whether [s] occurs free in [e], respecting shadowing. */
static bool occurs_free(const Core *e, const Symbol *s) {
  switch (e->kind) {
    case CK_CONST: return false;
    case CK_REF: return e->u.ref.name == s && !e->u.ref.builtin;
    case CK_IF:
      return occurs_free(e->u.ifx.test, s) || occurs_free(e->u.ifx.then, s) || occurs_free(e->u.ifx.els, s);
    case CK_MATCH:
      return occurs_free(e->u.match.subject, s) || occurs_free(e->u.match.els, s) ||
             (!pattern_binds(e->u.match.pattern, s) && occurs_free(e->u.match.then, s));
    case CK_LAMBDA:
      return !binds(e->u.lambda.params, e->u.lambda.nparams + (e->u.lambda.rest ? 1 : 0), s) &&
             occurs_free(e->u.lambda.body, s);
    case CK_CALL:
      if (occurs_free(e->u.call.fn, s)) return true;
      for (int j = 0; j < e->u.call.nargs; j++)
        if (occurs_free(e->u.call.args[j], s)) return true;
      return false;
    case CK_SEQ:
      for (int j = 0; j < e->u.seq.n; j++)
        if (occurs_free(e->u.seq.items[j], s)) return true;
      return false;
    case CK_LET:
    case CK_NAMEDLET:
      for (int j = 0; j < e->u.let.n; j++)
        if (occurs_free(e->u.let.inits[j], s)) return true;
      return !binds(e->u.let.names, e->u.let.n, s) && e->u.let.name != s && occurs_free(e->u.let.body, s);
    case CK_LETREC:
      if (binds(e->u.let.names, e->u.let.n, s)) return false;
      for (int j = 0; j < e->u.let.n; j++)
        if (occurs_free(e->u.let.inits[j], s)) return true;
      return occurs_free(e->u.let.body, s);
    case CK_DEFINE: return occurs_free(e->u.define.value, s);
    case CK_DECL: return occurs_free(e->u.decl.lambda, s);
  }
  return false;
}

/* Whether [s] is referenced anywhere in [e] (ignoring shadowing: a
 * conservative answer is fine for every use). */
static bool occurs(const Core *e, const Symbol *s) {
  switch (e->kind) {
    case CK_CONST: return false;
    case CK_REF: return e->u.ref.name == s && !e->u.ref.builtin;
    case CK_IF: return occurs(e->u.ifx.test, s) || occurs(e->u.ifx.then, s) || occurs(e->u.ifx.els, s);
    case CK_MATCH:
      return occurs(e->u.match.subject, s) || occurs(e->u.match.then, s) || occurs(e->u.match.els, s);
    case CK_LAMBDA: return occurs(e->u.lambda.body, s);
    case CK_CALL: return occurs(e->u.call.fn, s) || occurs_any(e->u.call.args, e->u.call.nargs, s);
    case CK_SEQ: return occurs_any(e->u.seq.items, e->u.seq.n, s);
    case CK_LET: case CK_LETREC: case CK_NAMEDLET:
      return occurs_any(e->u.let.inits, e->u.let.n, s) || occurs(e->u.let.body, s);
    case CK_DEFINE: return occurs(e->u.define.value, s);
    case CK_DECL: return occurs(e->u.decl.lambda, s);
  }
  return false;
}


/* Whether every use of loop [name] in [e] is a call with [n] arguments in
 * tail position, so the named let can be a jump instead of a closure. */
static bool loop_ok(const Core *e, const Symbol *name, int n, bool tail) {
  switch (e->kind) {
    case CK_CONST: return true;
    case CK_REF: return e->u.ref.name != name || e->u.ref.builtin;
    case CK_CALL:
      if (e->u.call.fn->kind == CK_REF && e->u.call.fn->u.ref.name == name && !e->u.call.fn->u.ref.builtin)
        return tail && e->u.call.nargs == n && !occurs_any(e->u.call.args, e->u.call.nargs, name);
      return !occurs(e, name);
    case CK_IF:
      return !occurs(e->u.ifx.test, name) && loop_ok(e->u.ifx.then, name, n, tail) &&
             loop_ok(e->u.ifx.els, name, n, tail);
    case CK_MATCH:
      return !occurs(e->u.match.subject, name) && loop_ok(e->u.match.els, name, n, tail) &&
             (pattern_binds(e->u.match.pattern, name) || loop_ok(e->u.match.then, name, n, tail));
    case CK_SEQ:
      return !occurs_any(e->u.seq.items, e->u.seq.n - 1, name) &&
             loop_ok(e->u.seq.items[e->u.seq.n - 1], name, n, tail);
    case CK_LET:
      if (occurs_any(e->u.let.inits, e->u.let.n, name)) return false;
      return binds(e->u.let.names, e->u.let.n, name) || loop_ok(e->u.let.body, name, n, tail);
    case CK_LETREC:
      if (binds(e->u.let.names, e->u.let.n, name)) return true;
      return !occurs_any(e->u.let.inits, e->u.let.n, name) && loop_ok(e->u.let.body, name, n, tail);
    case CK_NAMEDLET:
      if (occurs_any(e->u.let.inits, e->u.let.n, name)) return false;
      if (e->u.let.name == name || binds(e->u.let.names, e->u.let.n, name)) return true;
      if (!loop_ok(e->u.let.body, e->u.let.name, e->u.let.n, true)) return !occurs(e->u.let.body, name);
      return loop_ok(e->u.let.body, name, n, tail);
    case CK_LAMBDA:
    case CK_DEFINE:
    case CK_DECL:
      return !occurs(e, name);
  }
  return false;
}

/* The register of a local that can stand for another name: variables are
 * immutable, so (let ((x y)) ...) can share y's register, unless y is a
 * loop parameter (rewritten by the loop's jumps). */
static int alias_reg(FuncState *fs, Core *init) {
  if (init->kind != CK_REF || init->u.ref.builtin) return -1;
  for (int j = fs->nvars - 1; j >= 0; j--)
    if (fs->vars[j].name == init->u.ref.name)
      return fs->vars[j].loop || fs->vars[j].reassigned ? -1 : fs->vars[j].reg;
  return -1;
}

static void compile_let(FuncState *fs, Core *e, int dst, const Ctx *ctx) {
  int first = fs->freereg, nvars = fs->nvars, n = e->u.let.n;
  int *regs = GC_MALLOC_ATOMIC((size_t)(n ? n : 1) * sizeof(int));
  for (int j = 0; j < n; j++) {
    regs[j] = alias_reg(fs, e->u.let.inits[j]);
    if (regs[j] < 0) {
      regs[j] = alloc_reg(fs, e->u.let.locs[j]);
      compile(fs, e->u.let.inits[j], regs[j], &NONTAIL);
    }
  }
  for (int j = 0; j < n; j++) push_var(fs, e->u.let.names[j], regs[j], NULL);
  compile(fs, e->u.let.body, dst, ctx);
  fs->nvars = nvars;
  fs->freereg = first;
}

static void compile_letrec(FuncState *fs, Core *e, int dst, const Ctx *ctx) {
  Comp *c = fs->c;
  int n = e->u.let.n, first = fs->freereg, nvars = fs->nvars;
  bool all_lambdas = true;
  for (int j = 0; j < n; j++) {
    alloc_reg(fs, e->u.let.locs[j]);
    push_var(fs, e->u.let.names[j], first + j, NULL);
    if (e->u.let.inits[j]->kind != CK_LAMBDA) all_lambdas = false;
  }
  if (!all_lambdas)
    for (int j = 0; j < n; j++) emit(fs, iABC(OP_LOADUNSPEC, first + j, 0, 0), e->loc);
  Proto **made = GC_MALLOC((size_t)n * sizeof(Proto *));
  for (int j = 0; j < n; j++) {
    Core *init = e->u.let.inits[j];
    if (init->kind == CK_LAMBDA) {
      uint32_t ci = compile_lambda(fs, init, fs->pure_name, fs->top);
      made[j] = fs->children[ci];
      emit(fs, iABx(OP_CLOSURE, first + j, (int32_t)ci), init->loc);
    } else {
      for (int k = j; k < n; k++)
        if (occurs_free(init, e->u.let.names[k]) && e->u.let.names[k]->name[0] != '%')
          diag_error(c->d, init->loc, "'%s' is used before its definition", e->u.let.names[k]->name);
      compile(fs, init, first + j, &NONTAIL);
    }
    /* Closures made so far that captured this binding before it had its
     * value get it now. */
    for (int i = 0; i <= j; i++) {
      if (!made[i]) continue;
      for (uint32_t u = 0; u < made[i]->nup; u++)
        if (made[i]->up[u].from_reg && made[i]->up[u].index == first + j)
          emit(fs, iABC(OP_SETUPV, first + i, (int)u, first + j), e->u.let.locs[j]);
    }
  }
  compile(fs, e->u.let.body, dst, ctx);
  fs->nvars = nvars;
  fs->freereg = first;
}

static void compile_namedlet(FuncState *fs, Core *e, int dst, const Ctx *ctx) {
  int n = e->u.let.n;
  if (!loop_ok(e->u.let.body, e->u.let.name, n, true)) {
    /* ((letrec ((name (lambda params body))) name) init ...) */
    Core *lam = GC_MALLOC(sizeof *lam);
    lam->kind = CK_LAMBDA;
    lam->loc = e->loc;
    lam->u.lambda.params = e->u.let.names;
    lam->u.lambda.nparams = n;
    lam->u.lambda.body = e->u.let.body;
    lam->u.lambda.name = e->u.let.name;
    Core *ref = GC_MALLOC(sizeof *ref);
    ref->kind = CK_REF;
    ref->loc = e->loc;
    ref->u.ref.name = e->u.let.name;
    Core *lr = GC_MALLOC(sizeof *lr);
    lr->kind = CK_LETREC;
    lr->loc = e->loc;
    lr->u.let.names = GC_MALLOC(sizeof(Symbol *));
    lr->u.let.names[0] = e->u.let.name;
    lr->u.let.inits = GC_MALLOC(sizeof(Core *));
    lr->u.let.inits[0] = lam;
    lr->u.let.locs = GC_MALLOC(sizeof(Loc));
    lr->u.let.locs[0] = e->loc;
    lr->u.let.n = 1;
    lr->u.let.body = ref;
    Core call = { .kind = CK_CALL, .loc = e->loc };
    call.u.call.fn = lr;
    call.u.call.args = e->u.let.inits;
    call.u.call.nargs = n;
    compile_call(fs, &call, dst, ctx);
    return;
  }
  int first = fs->freereg, nvars = fs->nvars;
  for (int j = 0; j < n; j++) compile(fs, e->u.let.inits[j], alloc_reg(fs, e->u.let.locs[j]), &NONTAIL);
  for (int j = 0; j < n; j++) {
    push_var(fs, e->u.let.names[j], first + j, NULL);
    fs->vars[fs->nvars - 1].reassigned = true;
  }
  Loop *l = GC_MALLOC(sizeof *l);
  *l = (Loop){ e->u.let.name, n, first, fs->ncode, ctx->loops };
  push_var(fs, e->u.let.name, -1, l);
  Ctx inner = { ctx->tail, l };
  compile(fs, e->u.let.body, dst, &inner);
  fs->nvars = nvars;
  fs->freereg = first;
}

/* (name arg ...) in tail position of loop [l]: new parameter values, then
 * a backward jump.  An argument goes straight into its parameter when no
 * later argument reads that parameter. */
static void compile_loop_jump(FuncState *fs, Core *e, Loop *l) {
  int n = l->nparams, save = fs->freereg;
  Core **a = e->u.call.args;
  int *tmp = GC_MALLOC_ATOMIC((size_t)(n ? n : 1) * sizeof(int));
  bool *direct_written = GC_MALLOC_ATOMIC((size_t)(n ? n : 1) * sizeof(bool));
  for (int j = 0; j < n; j++) {
    direct_written[j] = false;
    Symbol *pj = NULL;
    for (int v = fs->nvars - 1; v >= 0; v--)
      if (fs->vars[v].reg == l->first + j && !fs->vars[v].loop) { pj = fs->vars[v].name; break; }
    if (a[j]->kind == CK_REF && !a[j]->u.ref.builtin && local_reg(fs, a[j]->u.ref.name) == l->first + j) {
      tmp[j] = -1;  /* unchanged */
      continue;
    }
    bool later_reads = pj == NULL || occurs_any(a + j + 1, n - j - 1, pj);
    bool reads_written = false;
    for (int k = 0; k < j; k++)
      if (direct_written[k]) {
        for (int v = fs->nvars - 1; v >= 0; v--)
          if (fs->vars[v].reg == l->first + k && !fs->vars[v].loop) {
            if (occurs(a[j], fs->vars[v].name)) reads_written = true;
            break;
          }
      }
    if (!later_reads && !reads_written) {
      compile(fs, a[j], l->first + j, &NONTAIL);
      direct_written[j] = true;
      tmp[j] = -1;
    } else {
      tmp[j] = alloc_reg(fs, e->loc);
      compile(fs, a[j], tmp[j], &NONTAIL);
    }
  }
  for (int j = 0; j < n; j++)
    if (tmp[j] >= 0) emit(fs, iABC(OP_MOVE, l->first + j, tmp[j], 0), e->loc);
  uint32_t jmp = emit_jump(fs, e->loc);
  patch_to(fs, jmp, l->label);
  fs->freereg = save;
}

/* An argument check whose value is unused, (%check-list "who" x) at the
 * head of a prelude procedure: one CHECK on x's register, where a call
 * would load the name, copy x beside it and call the primitive. */
static bool compile_check(FuncState *fs, Core *e) {
  if (e->kind != CK_CALL || e->u.call.nargs != 2) return false;
  int p = call_prim(fs, e->u.call.fn);
  Core *who = e->u.call.args[0];
  if (p < 0 || p >= PRIM__COUNT || prim_info[p].fast_op != OP_CHECK || who->kind != CK_CONST || !who->u.konst.datum)
    return false;
  uint32_t name = add_const(fs, datum_value(who->u.konst.datum));
  if (name > 0xFFFF) return false;
  int save = fs->freereg;
  emit(fs, iABC(OP_CHECK, expr_any(fs, e->u.call.args[1]), name, p), e->loc);
  fs->freereg = save;
  return true;
}

static void compile_seq(FuncState *fs, Core *e, int dst, const Ctx *ctx) {
  for (int j = 0; j < e->u.seq.n - 1; j++) {
    if (compile_check(fs, e->u.seq.items[j])) continue;
    int save = fs->freereg;
    compile(fs, e->u.seq.items[j], alloc_reg(fs, e->loc), &NONTAIL);
    fs->freereg = save;
  }
  compile(fs, e->u.seq.items[e->u.seq.n - 1], dst, ctx);
}

/* {===== Functions =====} */

static Proto *finish_proto(FuncState *fs, Core *lam) {
  Proto *p = GC_MALLOC(sizeof *p);
  p->code = fs->code;
  p->ncode = fs->ncode;
  p->lines = fs->lines;
  p->k = fs->k;
  p->nk = fs->nk;
  p->protos = fs->children;
  p->nprotos = fs->nchildren;
  p->up = fs->up;
  p->nup = (uint16_t)fs->nup;
  p->nregs = (uint16_t)(fs->maxreg > 0 ? fs->maxreg : 1);
  p->module = fs->c->m;
  if (lam) {
    p->nparams = (uint16_t)lam->u.lambda.nparams;
    p->rest = lam->u.lambda.rest;
    p->name = lam->u.lambda.name;
  }
  return p;
}

static uint32_t register_proto(Comp *c, Proto *p) {
  GROW(c->protos, c->m->nprotos, c->capprotos, 16);
  c->protos[c->m->nprotos] = p;
  c->m->protos = c->protos;
  return c->m->nprotos++;
}

/* Compiles a lambda as a child of [fs]; returns its child index.  Its
 * flat index in the module is recorded in [flat] if non-NULL. */
static uint32_t compile_lambda_flat(FuncState *fs, Core *e, Symbol *pure_name, TopInfo *top, uint32_t *flat) {
  FuncState nfs;
  memset(&nfs, 0, sizeof nfs);
  nfs.c = fs->c;
  nfs.parent = fs;
  nfs.pure_name = pure_name;
  nfs.top = top;
  int np = e->u.lambda.nparams + (e->u.lambda.rest ? 1 : 0);
  for (int j = 0; j < np; j++) push_var(&nfs, e->u.lambda.params[j], alloc_reg(&nfs, e->loc), NULL);
  Ctx ctx = { true, NULL };
  compile(&nfs, e->u.lambda.body, 0, &ctx);
  Proto *p = finish_proto(&nfs, e);
  uint32_t fi = register_proto(fs->c, p);
  if (flat) *flat = fi;
  GROW(fs->children, fs->nchildren, fs->capchildren, 4);
  fs->children[fs->nchildren] = p;
  return fs->nchildren++;
}

static uint32_t compile_lambda(FuncState *fs, Core *e, Symbol *pure_name, TopInfo *top) {
  return compile_lambda_flat(fs, e, pure_name, top, NULL);
}

static void compile(FuncState *fs, Core *e, int dst, const Ctx *ctx) {
  switch (e->kind) {
    case CK_CONST: {
      int r = target(fs, dst, ctx, e->loc);
      load_value(fs, e->u.konst.datum ? datum_value(e->u.konst.datum) : v_unspec(), r, e->loc);
      finish(fs, r, ctx, e->loc);
      return;
    }
    case CK_REF: compile_ref(fs, e, dst, ctx); return;
    case CK_IF: compile_if(fs, e, dst, ctx); return;
    case CK_MATCH: compile_match(fs, e, dst, ctx); return;
    case CK_CALL: compile_call(fs, e, dst, ctx); return;
    case CK_SEQ: compile_seq(fs, e, dst, ctx); return;
    case CK_LET: compile_let(fs, e, dst, ctx); return;
    case CK_LETREC: compile_letrec(fs, e, dst, ctx); return;
    case CK_NAMEDLET: compile_namedlet(fs, e, dst, ctx); return;
    case CK_LAMBDA: {
      int r = target(fs, dst, ctx, e->loc);
      uint32_t ci = compile_lambda(fs, e, fs->pure_name, fs->top);
      emit(fs, iABx(OP_CLOSURE, r, (int32_t)ci), e->loc);
      finish(fs, r, ctx, e->loc);
      return;
    }
    case CK_DEFINE:
    case CK_DECL:
      diag_error(fs->c->d, e->loc, "definition not allowed here");
      return;
  }
}

/* {===== Modules =====} */

static TopInfo *new_top(Comp *c, Symbol *global) {
  TopInfo *t = GC_MALLOC(sizeof *t);
  t->global = global;
  GROW(c->tops, (uint32_t)c->ntops, c->captops, 8);
  c->tops[c->ntops++] = t;
  return t;
}

static bool global_impure(Comp *c, Symbol *s) {
  uint32_t mask = c->gindex_cap - 1;
  if (c->gindex_cap)
    for (uint32_t j = s->hash & mask; c->gindex[j]; j = (j + 1) & mask)
      if (c->m->globals[c->gindex[j] - 1] == s) {
        uint8_t f = c->m->gflags[c->gindex[j] - 1];
        if (f & GF_DEFINED) return f & GF_IMPURE;
        break;
      }
  size_t slot;
  if (vm_global_lookup(c->vm, s, &slot))
    return (c->vm->globals.flags[slot] & GF_IMPURE) ||
           (c->vm->globals.values[slot].tag == T_PRIM && c->vm->globals.values[slot].as.u >= PRIM__COUNT);
  return false;
}

static void mark_impure(Comp *c, Symbol *s) {
  uint32_t gi = global_index(c, s);
  c->m->gflags[gi] |= GF_IMPURE;
}

/* Propagates "uses AVM instructions" through the module's procedures to a
 * fixpoint, then rejects pure declarations that reach one. */
static void check_purity(Comp *c) {
  bool changed = true;
  while (changed) {
    changed = false;
    for (int t = 0; t < c->ntops; t++) {
      TopInfo *ti = c->tops[t];
      if (!ti->global || global_impure(c, ti->global)) continue;
      for (Use *u = ti->uses; u; u = u->next)
        if (u->instr || global_impure(c, u->name)) {
          mark_impure(c, ti->global);
          changed = true;
          break;
        }
    }
  }
}

static void check_pure_decl(Comp *c, Symbol *name, TopInfo *ti) {
  for (Use *u = ti->uses; u; u = u->next)
    if (!u->instr && global_impure(c, u->name))
      diag_error(c->d, u->loc, "pure function '%s' calls '%s', which uses AVM instructions", name->name, u->name->name);
}

Module *comp_module(Diag *d, VM *vm, const CoreProgram *prog, const char *file, const CompOptions *opt) {
  int before = d->nerrors;
  Comp c;
  memset(&c, 0, sizeof c);
  c.d = d;
  c.vm = vm;
  c.opt = opt;
  c.m = GC_MALLOC(sizeof *c.m);
  memset(c.m, 0, sizeof *c.m);
  c.m->file = file;
  register_proto(&c, NULL);  /* slot 0: the top-level program */
  /* Every top-level definition is known before any code is compiled, so
   * forward references between definitions resolve. */
  for (int j = 0; j < prog->n; j++) {
    Core *f = prog->forms[j];
    Symbol *name = f->kind == CK_DEFINE ? f->u.define.name
                 : f->kind == CK_DECL && f->u.decl.form == DF_PURE ? f->u.decl.name : NULL;
    if (name) {
      uint32_t gi = global_index(&c, name);
      c.m->gflags[gi] |= GF_DEFINED;
    }
  }

  FuncState main;
  memset(&main, 0, sizeof main);
  main.c = &c;
  TopInfo *main_top = new_top(&c, NULL);
  main.top = main_top;
  TopInfo **pure_tops = GC_MALLOC((size_t)(prog->n + 1) * sizeof(TopInfo *));
  int last_value = -1;
  for (int j = 0; j < prog->n; j++) {
    Core *e = prog->forms[j];
    bool last = j == prog->n - 1;
    int save = main.freereg;
    if (e->kind == CK_DEFINE) {
      Core *v = e->u.define.value;
      int r = alloc_reg(&main, e->loc);
      /* Every definition is tracked for purity, not only lambdas:
       * (define h get-state) makes h impure too. */
      main.top = new_top(&c, e->u.define.name);
      compile(&main, v, r, &NONTAIL);
      main.top = main_top;
      emit(&main, iABx(OP_DEFGLOBAL, r, (int32_t)global_index(&c, e->u.define.name)), e->loc);
    } else if (e->kind == CK_DECL) {
      TopInfo *ti = new_top(&c, NULL);
      uint32_t flat;
      uint32_t child = compile_lambda_flat(&main, e->u.decl.lambda, e->u.decl.form == DF_PURE ? e->u.decl.name : NULL, ti, &flat);
      if (e->u.decl.form == DF_PURE) {
        /* A pure function is also an ordinary global procedure: it can
         * call itself and be called directly. */
        int r = alloc_reg(&main, e->loc);
        emit(&main, iABx(OP_CLOSURE, r, (int32_t)child), e->loc);
        emit(&main, iABx(OP_DEFGLOBAL, r, (int32_t)global_index(&c, e->u.decl.name)), e->loc);
      }
      if (e->u.decl.form == DF_PURE) pure_tops[j] = ti;
      for (uint32_t k = 0; k < c.m->ndecls; k++)
        if (c.m->decls[k].name == e->u.decl.name && c.m->decls[k].kind == (DeclKind)e->u.decl.form)
          diag_error(d, e->loc, "%s '%s' is declared twice", e->u.decl.form == DF_PURE ? "pure function" : "behavior",
                     e->u.decl.name->name);
      Decl *nd = GC_MALLOC((c.m->ndecls + 1) * sizeof *nd);
      if (c.m->ndecls) memcpy(nd, c.m->decls, c.m->ndecls * sizeof *nd);
      nd[c.m->ndecls++] = (Decl){ e->u.decl.form == DF_PURE ? DECL_PURE : DECL_BEHAVIOR, e->u.decl.name, flat };
      c.m->decls = nd;
    } else {
      if (last) {
        /* Not a tail call: the program's frame stays, so a runtime error
         * in what it calls has "in the program" at the bottom of its
         * backtrace. */
        int r = alloc_reg(&main, e->loc);
        compile(&main, e, r, &NONTAIL);
        emit(&main, iABC(OP_RET, r, 0, 0), e->loc);
        last_value = j;
      } else {
        compile(&main, e, alloc_reg(&main, e->loc), &NONTAIL);
      }
    }
    main.freereg = save;
  }
  if (last_value < 0) {
    int r = alloc_reg(&main, (Loc){ file, 0, 0, 0, 0 });
    emit(&main, iABC(OP_LOADUNSPEC, r, 0, 0), (Loc){ file, 0, 0, 0, 0 });
    emit(&main, iABC(OP_RET, r, 0, 0), (Loc){ file, 0, 0, 0, 0 });
  }
  check_purity(&c);
  for (int j = 0; j < prog->n; j++)
    if (pure_tops[j]) check_pure_decl(&c, prog->forms[j]->u.decl.name, pure_tops[j]);
  Proto *mp = finish_proto(&main, NULL);
  c.protos[0] = mp;
  c.m->protos = c.protos;
  free(c.gindex);
  if (d->nerrors != before) return NULL;
  return c.m;
}

Module *comp_syntax(Diag *d, VM *vm, const char *file, const SyntaxList *sl, const CompOptions *opt) {
  CoreProgram prog;
  if (!desugar_program(d, sl, &prog)) return NULL;
  return comp_module(d, vm, &prog, file, opt);
}

Module *comp_source(Diag *d, VM *vm, const char *file, const char *text, size_t len, const CompOptions *opt) {
  SyntaxList sl;
  if (!read_source_from(d, file, text, len, opt ? opt->first_line : 1, &sl)) return NULL;
  return comp_syntax(d, vm, file, &sl, opt);
}
