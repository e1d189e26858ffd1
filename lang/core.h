/* lang/core.h — the small core language that desugaring produces and the
 * compiler consumes.  Derived forms (let*, cond, case, when, unless, and,
 * or, quasiquote, do) no longer exist here; a match is a chain of
 * CK_MATCH clauses, kept as patterns so that the compiler can take the
 * value apart once per clause instead of once per test. */
#ifndef AVM_CORE_H
#define AVM_CORE_H
#include "lang/syntax.h"

typedef enum CoreKind {
  CK_CONST,     /* a literal or quoted datum; datum NULL = unspecified */
  CK_REF,       /* variable reference */
  CK_IF,
  CK_MATCH,     /* one match clause: see Pattern */
  CK_LAMBDA,
  CK_CALL,
  CK_SEQ,
  CK_LET,       /* parallel bindings */
  CK_LETREC,    /* letrec* bindings: inits run in order */
  CK_NAMEDLET,  /* (let name ((p init) ...) body) */
  CK_DEFINE,    /* top-level definition */
  CK_DECL       /* top-level behavior or pure declaration */
} CoreKind;

/* What a reserved word of lang/keywords.def is. */
typedef enum KeywordKind { KW_FORM, KW_DECL, KW_AUX } KeywordKind;

typedef enum DeclForm { DF_BEHAVIOR, DF_PURE } DeclForm;

/* A match clause's pattern, already checked by the desugarer (no keyword,
 * no variable twice).  The compiler walks it over the value in place, so
 * each pair of the value is taken apart once. */
typedef enum PatternKind {
  PAT_ANY,      /* _ */
  PAT_VAR,      /* var: matches anything and binds it */
  PAT_EQV,      /* datum, compared with eqv?: an integer, boolean, symbol or () */
  PAT_EQUAL,    /* datum, compared with equal?: a string or other quoted data */
  PAT_NOTHING,  /* the nothing maybe */
  PAT_JUST,     /* (just sub) */
  PAT_LIST      /* items[0..n-1], then tail (NULL: the list ends there) */
} PatternKind;

typedef struct Pattern Pattern;
struct Pattern {
  PatternKind kind;
  Loc loc;
  union {
    Symbol *var;
    Syntax *datum;
    Pattern *sub;
    struct { Pattern **items; int n; Pattern *tail; } list;
  } u;
};

typedef struct Core Core;
struct Core {
  CoreKind kind;
  Loc loc;
  union {
    struct { Syntax *datum; } konst;
    /* builtin: the primitive of this name, whatever shadows it (used by
     * desugared code such as match and quasiquote). */
    struct { Symbol *name; bool builtin; } ref;
    struct { Core *test, *then, *els; } ifx;
    /* If the value of subject (a local variable, so that reading it costs
     * nothing) matches pattern, then with the pattern's variables bound,
     * else els, where none of them is bound. */
    struct { Core *subject; Pattern *pattern; Core *then, *els; } match;
    /* params[0..nparams-1], then the rest parameter params[nparams] if rest. */
    struct { Symbol **params; int nparams; bool rest; Core *body; Symbol *name; } lambda;
    struct { Core *fn; Core **args; int nargs; } call;
    struct { Core **items; int n; } seq;
    /* CK_LET, CK_LETREC, CK_NAMEDLET (name set only for the last). */
    struct { Symbol *name; Symbol **names; Core **inits; Loc *locs; int n; Core *body; } let;
    struct { Symbol *name; Core *value; } define;
    struct { DeclForm form; Symbol *name; Core *lambda; } decl;
  } u;
};

typedef struct CoreProgram {
  Core **forms;
  int n;
} CoreProgram;

/* The names of the special forms and declarations, for "did you mean";
 * entries for keywords that only appear inside forms (else, =>, ...) are
 * NULL. */
extern const char *const desugar_special_forms[];
extern const int desugar_nspecial_forms;

/* Desugars a whole file.  Reports every error to [d]; false if any. */
bool desugar_program(Diag *d, const SyntaxList *in, CoreProgram *out);

#endif
