/* vm/opcode.c — the descriptor tables, expanded from the .def lists. */
#include "vm/opcode.h"

#define OP_NONE (-1)
const OpInfo op_info[OP__COUNT] = {
#define OP(name, a, b, c, bx, x, flags, gas, doc) \
  { #name, OK_##a, OK_##b, OK_##c, OK_##bx, OK_##x, flags, doc },
#include "vm/opcodes.def"
#undef OP
};

const InstrInfo instr_info[IN__COUNT] = {
#define INSTR(id, name, mn, mx, layer, safety, fam, gas) { name, mn, mx, layer, safety, FAM_##fam, gas },
#include "vm/instrs.def"
#undef INSTR
};

const PrimInfo prim_info[PRIM__COUNT] = {
#define PRIM(cname, name, mn, mx, fast, kind) { name, mn, mx, OP_##fast, PK_##kind },
#include "vm/prims.def"
#undef PRIM
};
