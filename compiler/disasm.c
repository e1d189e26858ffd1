/* compiler/disasm.c — listings of modules for avmc disasm, driven by the
 * operand kinds in vm/opcodes.def (no per-opcode code here). */
#include <inttypes.h>
#include "compiler/compiler.h"

static void print_operand(FILE *out, const Module *m, const Proto *p, uint32_t pc, int kind, int64_t v,
                          const char **comment_fmt, int64_t *comment_val, bool *first) {
  if (kind == OK_NONE) return;
  fputs(*first ? " " : ", ", out);
  *first = false;
  switch (kind) {
    case OK_REG: fprintf(out, "r%" PRId64, v); break;
    case OK_CONST: fprintf(out, "k%" PRId64, v); *comment_fmt = "k"; *comment_val = v; break;
    case OK_PROTO: fprintf(out, "f%" PRId64, v); break;
    case OK_GLOBAL: fprintf(out, "g%" PRId64, v); *comment_fmt = "g"; *comment_val = v; break;
    case OK_UPVAL: fprintf(out, "u%" PRId64, v); break;
    case OK_JUMP: fprintf(out, "-> %" PRId64, (int64_t)pc + 1 + v); break;
    case OK_PRIM: fprintf(out, "%s", v < PRIM__COUNT ? prim_info[v].name : "?"); break;
    case OK_INSTR: fprintf(out, "%s", v < IN__COUNT ? instr_info[v].name : "?"); break;
    case OK_REGK:
      if (p->code[pc].x & 2) { fprintf(out, "k%" PRId64, v); *comment_fmt = "k"; *comment_val = v; }
      else fprintf(out, "r%" PRId64, v);
      break;
    default: fprintf(out, "%" PRId64, v); break;
  }
  (void)m;
}

static void print_proto(FILE *out, const Module *m, uint32_t idx, bool verbose) {
  const Proto *p = m->protos[idx];
  fprintf(out, "function %u <%s>: %u param%s%s, %u register%s, %u upvalue%s, %u constant%s\n", idx,
          idx == 0 ? "top level" : p->name ? p->name->name : "lambda", p->nparams, p->nparams == 1 ? "" : "s",
          p->rest ? " + rest" : "", p->nregs, p->nregs == 1 ? "" : "s", p->nup, p->nup == 1 ? "" : "s",
          p->nk, p->nk == 1 ? "" : "s");
  for (uint32_t pc = 0; pc < p->ncode; pc++) {
    const Instr *in = &p->code[pc];
    if (in->op >= OP__COUNT) {
      fprintf(out, "  %4u  ??? %u\n", pc, in->op);
      continue;
    }
    const OpInfo *oi = &op_info[in->op];
    fprintf(out, "  %4u  [%d:%d]\t%-11s", pc, p->lines[pc].line, p->lines[pc].col, oi->name);
    const char *cf = NULL;
    int64_t cv = 0;
    bool first = true;
    print_operand(out, m, p, pc, oi->a, in->a, &cf, &cv, &first);
    if (oi->bx != OK_NONE) {
      print_operand(out, m, p, pc, oi->bx, in->bx, &cf, &cv, &first);
    } else {
      print_operand(out, m, p, pc, oi->b, oi->b == OK_SIMM ? (int16_t)in->b : in->b, &cf, &cv, &first);
      print_operand(out, m, p, pc, oi->c, oi->c == OK_SIMM ? (int16_t)in->c : in->c, &cf, &cv, &first);
    }
    if (oi->x == OK_ARGC) fprintf(out, " (%u arg%s)", in->x, in->x == 1 ? "" : "s");
    else if (oi->flags & OPF_SKIP) fprintf(out, " if %s", (in->x & 1) ? "true" : "false");
    if (cf && cf[0] == 'k' && cv < p->nk) {
      fputs("\t; ", out);
      v_write(out, p->k[cv]);
    } else if (cf && cf[0] == 'g' && cv < m->nglobals && !m->linked) {
      fprintf(out, "\t; %s", m->globals[cv]->name);
    }
    fputc('\n', out);
  }
  if (verbose) {
    for (uint32_t j = 0; j < p->nk; j++) {
      fprintf(out, "  k%u = ", j);
      v_write(out, p->k[j]);
      fputc('\n', out);
    }
    for (uint32_t j = 0; j < p->nup; j++)
      fprintf(out, "  u%u = %s %u\n", j, p->up[j].from_reg ? "register" : "upvalue", p->up[j].index);
  }
}

void disasm_module(FILE *out, const Module *m, bool verbose) {
  fprintf(out, "module %s%s: %u function%s, %u global%s, %u declaration%s\n", m->file ? m->file : "?",
          (m->flags & MODULE_UNSAFE) ? " (unsafe)" : "", m->nprotos, m->nprotos == 1 ? "" : "s", m->nglobals,
          m->nglobals == 1 ? "" : "s", m->ndecls, m->ndecls == 1 ? "" : "s");
  for (uint32_t j = 0; j < m->ndecls; j++)
    fprintf(out, "  %s %s = function %u\n", m->decls[j].kind == DECL_PURE ? "pure" : "behavior",
            m->decls[j].name->name, m->decls[j].proto);
  if (verbose)
    for (uint32_t j = 0; j < m->nglobals; j++) fprintf(out, "  g%u = %s\n", j, m->globals[j]->name);
  for (uint32_t j = 0; j < m->nprotos; j++) {
    fputc('\n', out);
    print_proto(out, m, j, verbose);
  }
}
