/* lang/desugar.c — from S-expressions to the core language: special forms
 * are recognised and checked here, derived forms (let*, named let, cond,
 * case, when, unless, and, or, quasiquote, do) are rewritten into the core
 * of lang/core.h, match into a chain of checked patterns, and bodies with
 * internal definitions become letrec*.  Every error names the offending
 * form's location. */
#include <gc.h>
#include <string.h>
#include "lang/core.h"

typedef struct DS {
  Diag *d;
  int gensyms;
} DS;

/* {===== Keywords =====} */

static struct {
#define KW(id, s, kind) Symbol *kw_##id;
#include "lang/keywords.def"
#undef KW
} K;

static void init_keywords(void) {
  if (K.kw_quote) return;
#define KW(id, s, kind) K.kw_##id = sym_intern_cstr(s);
#include "lang/keywords.def"
#undef KW
}

/* A special form's name, which no binding may take. */
static bool is_keyword(Symbol *s) {
#define KW(id, str, kind) if (kind == KW_FORM && s == K.kw_##id) return true;
#include "lang/keywords.def"
#undef KW
  return false;
}

const char *const desugar_special_forms[] = {
#define KW(id, s, kind) kind == KW_AUX ? NULL : s,
#include "lang/keywords.def"
#undef KW
};
const int desugar_nspecial_forms = sizeof desugar_special_forms / sizeof *desugar_special_forms;

/* {===== Core constructors =====} */

static Core *mk(CoreKind k, Loc loc) {
  Core *c = GC_MALLOC(sizeof *c);
  c->kind = k;
  c->loc = loc;
  return c;
}

static Core *mk_const(Loc loc, Syntax *datum) {
  Core *c = mk(CK_CONST, loc);
  c->u.konst.datum = datum;
  return c;
}
static Core *mk_unspec(Loc loc) { return mk_const(loc, NULL); }
static Core *mk_bool(Loc loc, bool b) { return mk_const(loc, sx_bool(loc, b)); }

static Core *mk_ref(Loc loc, Symbol *s) {
  Core *c = mk(CK_REF, loc);
  c->u.ref.name = s;
  return c;
}

static Core *mk_builtin(Loc loc, const char *name) {
  Core *c = mk_ref(loc, sym_intern_cstr(name));
  c->u.ref.builtin = true;
  return c;
}

static Core *mk_call(Loc loc, Core *fn, Core **args, int n) {
  Core *c = mk(CK_CALL, loc);
  c->u.call.fn = fn;
  c->u.call.args = args;
  c->u.call.nargs = n;
  return c;
}

static Core **vec(int n) { return GC_MALLOC((size_t)(n ? n : 1) * sizeof(Core *)); }

static Core *mk_prim2(Loc loc, const char *name, Core *a, Core *b) {
  Core **args = vec(2);
  args[0] = a;
  args[1] = b;
  return mk_call(loc, mk_builtin(loc, name), args, 2);
}

static Core *mk_if(Loc loc, Core *t, Core *a, Core *b) {
  Core *c = mk(CK_IF, loc);
  c->u.ifx.test = t;
  c->u.ifx.then = a;
  c->u.ifx.els = b;
  return c;
}

static Core *mk_let1(Loc loc, Symbol *name, Core *init, Core *body) {
  Core *c = mk(CK_LET, loc);
  c->u.let.names = GC_MALLOC(sizeof(Symbol *));
  c->u.let.inits = vec(1);
  c->u.let.locs = GC_MALLOC(sizeof(Loc));
  c->u.let.names[0] = name;
  c->u.let.inits[0] = init;
  c->u.let.locs[0] = loc;
  c->u.let.n = 1;
  c->u.let.body = body;
  return c;
}

static Core *mk_seq(Loc loc, Core **items, int n) {
  if (n == 1) return items[0];
  Core *c = mk(CK_SEQ, loc);
  c->u.seq.items = items;
  c->u.seq.n = n;
  return c;
}

/* A fresh, uninterned symbol: it can never clash with a user's name. */
static Symbol *gensym(DS *ds, const char *prefix) {
  char buf[64];
  int n = snprintf(buf, sizeof buf, "%%%s%d", prefix, ++ds->gensyms);
  Symbol *s = GC_MALLOC_ATOMIC_UNCOLLECTABLE(sizeof *s + (size_t)n + 1);
  s->hash = (uint32_t)ds->gensyms * 2654435761u;
  s->len = (uint32_t)n;
  memcpy(s->name, buf, (size_t)n + 1);
  return s;
}

/* {===== Errors =====} */

static Core *bad(DS *ds, const Syntax *form, const char *msg) {
  diag_error(ds->d, form->loc, "%s", msg);
  return mk_unspec(form->loc);
}

static Syntax **items(const Syntax *s) { return s->u.list.items; }
static int nitems(const Syntax *s) { return s->u.list.n; }

/* {===== Expressions =====} */

static Core *expr(DS *ds, Syntax *s);
static Core *body(DS *ds, Syntax **forms, int n, Loc loc);

static Core *expr_seq(DS *ds, Syntax **forms, int n, Loc loc) {
  if (n == 0) return mk_unspec(loc);
  Core **v = vec(n);
  for (int j = 0; j < n; j++) v[j] = expr(ds, forms[j]);
  return mk_seq(loc, v, n);
}

/* Parses a lambda list: (a b), (a . rest), or rest. */
static bool params(DS *ds, Syntax *s, Symbol ***out, int *n, bool *rest) {
  if (s->kind == SX_SYM) {
    *out = GC_MALLOC(sizeof(Symbol *));
    (*out)[0] = s->u.sym;
    *n = 0;
    *rest = true;
    return true;
  }
  if (s->kind != SX_LIST) {
    diag_error(ds->d, s->loc, "malformed parameter list: expected (param ...)");
    return false;
  }
  int cnt = nitems(s);
  Symbol **p = GC_MALLOC((size_t)(cnt + 1) * sizeof(Symbol *));
  for (int j = 0; j < cnt; j++) {
    Syntax *x = items(s)[j];
    if (x->kind != SX_SYM || is_keyword(x->u.sym)) {
      diag_error(ds->d, x->loc, "malformed parameter list: parameter must be an identifier");
      return false;
    }
    for (int k = 0; k < j; k++)
      if (p[k] == x->u.sym) {
        diag_error(ds->d, x->loc, "duplicate parameter '%s'", x->u.sym->name);
        return false;
      }
    p[j] = x->u.sym;
  }
  *rest = false;
  if (s->u.list.tail) {
    if (s->u.list.tail->kind != SX_SYM) {
      diag_error(ds->d, s->u.list.tail->loc, "malformed parameter list: rest parameter must be an identifier");
      return false;
    }
    p[cnt] = s->u.list.tail->u.sym;
    *rest = true;
  }
  *out = p;
  *n = cnt;
  return true;
}

static Core *make_lambda(DS *ds, Syntax *form, Syntax *plist, Syntax **b, int nb, Symbol *name) {
  Core *c = mk(CK_LAMBDA, form->loc);
  if (!params(ds, plist, &c->u.lambda.params, &c->u.lambda.nparams, &c->u.lambda.rest))
    return mk_unspec(form->loc);
  if (nb == 0) return bad(ds, form, "malformed lambda: empty body");
  c->u.lambda.body = body(ds, b, nb, form->loc);
  c->u.lambda.name = name;
  return c;
}

static Core *lambda_form(DS *ds, Syntax *s) {
  if (nitems(s) < 3) return bad(ds, s, "malformed lambda: expected (lambda (param ...) body ...)");
  return make_lambda(ds, s, items(s)[1], items(s) + 2, nitems(s) - 2, NULL);
}

/* Gives an anonymous lambda the name it is bound to. */
static Core *named(Core *c, Symbol *name) {
  if (c->kind == CK_LAMBDA && !c->u.lambda.name) c->u.lambda.name = name;
  return c;
}

/* Reads ((name init) ...) into arrays; false after reporting an error. */
static bool bindings(DS *ds, Syntax *s, const char *form, Symbol ***names, Core ***inits, Loc **locs, int *n) {
  if (!sx_is_list(s)) {
    diag_error(ds->d, s->loc, "malformed %s: expected a list of bindings", form);
    return false;
  }
  int cnt = nitems(s);
  *names = GC_MALLOC((size_t)(cnt ? cnt : 1) * sizeof(Symbol *));
  *inits = vec(cnt);
  *locs = GC_MALLOC((size_t)(cnt ? cnt : 1) * sizeof(Loc));
  for (int j = 0; j < cnt; j++) {
    Syntax *b = items(s)[j];
    if (!sx_is_list(b) || nitems(b) != 2 || items(b)[0]->kind != SX_SYM || is_keyword(items(b)[0]->u.sym)) {
      diag_error(ds->d, b->loc, "malformed %s binding: expected (name expression)", form);
      return false;
    }
    (*names)[j] = items(b)[0]->u.sym;
    (*inits)[j] = named(expr(ds, items(b)[1]), (*names)[j]);
    (*locs)[j] = b->loc;
  }
  *n = cnt;
  return true;
}

static Core *let_form(DS *ds, Syntax *s, CoreKind kind, const char *fname) {
  int n = nitems(s);
  if (n >= 2 && kind == CK_LET && items(s)[1]->kind == SX_SYM) {
    if (n < 4) return bad(ds, s, "malformed named let: expected (let name ((var init) ...) body ...)");
    Core *c = mk(CK_NAMEDLET, s->loc);
    c->u.let.name = items(s)[1]->u.sym;
    if (!bindings(ds, items(s)[2], fname, &c->u.let.names, &c->u.let.inits, &c->u.let.locs, &c->u.let.n))
      return mk_unspec(s->loc);
    for (int j = 0; j < c->u.let.n; j++)
      for (int k = 0; k < j; k++)
        if (c->u.let.names[j] == c->u.let.names[k]) {
          diag_error(ds->d, c->u.let.locs[j], "duplicate variable '%s' in named let", c->u.let.names[j]->name);
          return mk_unspec(s->loc);
        }
    c->u.let.body = body(ds, items(s) + 3, n - 3, s->loc);
    return c;
  }
  if (n < 3) {
    diag_error(ds->d, s->loc, "malformed %s: expected (%s ((var init) ...) body ...)", fname, fname);
    return mk_unspec(s->loc);
  }
  Symbol **names;
  Core **inits;
  Loc *locs;
  int cnt;
  if (!bindings(ds, items(s)[1], fname, &names, &inits, &locs, &cnt)) return mk_unspec(s->loc);
  Core *b = body(ds, items(s) + 2, n - 2, s->loc);
  if (kind == CK_LET && strcmp(fname, "let*") == 0) {
    /* let* nests one let per binding. */
    for (int j = cnt - 1; j >= 0; j--) b = mk_let1(locs[j], names[j], inits[j], b);
    return b;
  }
  if (kind != CK_LETREC)
    for (int j = 0; j < cnt; j++)
      for (int k = 0; k < j; k++)
        if (names[j] == names[k]) {
          diag_error(ds->d, locs[j], "duplicate variable '%s' in %s", names[j]->name, fname);
          return mk_unspec(s->loc);
        }
  Core *c = mk(kind, s->loc);
  c->u.let.names = names;
  c->u.let.inits = inits;
  c->u.let.locs = locs;
  c->u.let.n = cnt;
  c->u.let.body = b;
  return c;
}

static Core *if_form(DS *ds, Syntax *s) {
  int n = nitems(s);
  if (n != 3 && n != 4) return bad(ds, s, "malformed if: expected (if test then [else])");
  return mk_if(s->loc, expr(ds, items(s)[1]), expr(ds, items(s)[2]),
               n == 4 ? expr(ds, items(s)[3]) : mk_unspec(s->loc));
}

/* (and) is #t; (and a) is a; (and a b ...) is (if a (and b ...) #f). */
static Core *and_form(DS *ds, Syntax **a, int n, Loc loc) {
  if (n == 0) return mk_bool(loc, true);
  Core *first = expr(ds, a[0]);
  if (n == 1) return first;
  return mk_if(loc, first, and_form(ds, a + 1, n - 1, loc), mk_bool(loc, false));
}

/* (or a b ...) is (let ((t a)) (if t t (or b ...))). */
static Core *or_form(DS *ds, Syntax **a, int n, Loc loc) {
  if (n == 0) return mk_bool(loc, false);
  Core *first = expr(ds, a[0]);
  if (n == 1) return first;
  Symbol *t = gensym(ds, "or");
  return mk_let1(loc, t, first, mk_if(loc, mk_ref(loc, t), mk_ref(loc, t), or_form(ds, a + 1, n - 1, loc)));
}

static Core *cond_clauses(DS *ds, Syntax **cl, int n, Loc loc) {
  if (n == 0) return mk_unspec(loc);
  Syntax *c = cl[0];
  if (!sx_is_list(c) || nitems(c) == 0) return bad(ds, c, "malformed cond clause: expected (test body ...)");
  Syntax *test = items(c)[0];
  if (sx_is_sym(test, K.kw_else)) {
    if (n != 1) return bad(ds, c, "malformed cond: 'else' clause must be last");
    if (nitems(c) < 2) return bad(ds, c, "malformed cond: empty 'else' clause");
    return expr_seq(ds, items(c) + 1, nitems(c) - 1, c->loc);
  }
  Core *rest = cond_clauses(ds, cl + 1, n - 1, loc);
  if (nitems(c) == 1) {
    Symbol *t = gensym(ds, "cond");
    return mk_let1(c->loc, t, expr(ds, test), mk_if(c->loc, mk_ref(c->loc, t), mk_ref(c->loc, t), rest));
  }
  if (sx_is_sym(items(c)[1], K.kw_arrow)) {
    if (nitems(c) != 3) return bad(ds, c, "malformed cond clause: expected (test => receiver)");
    Symbol *t = gensym(ds, "cond");
    Core **args = vec(1);
    args[0] = mk_ref(c->loc, t);
    return mk_let1(c->loc, t, expr(ds, test),
                   mk_if(c->loc, mk_ref(c->loc, t), mk_call(c->loc, expr(ds, items(c)[2]), args, 1), rest));
  }
  return mk_if(c->loc, expr(ds, test), expr_seq(ds, items(c) + 1, nitems(c) - 1, c->loc), rest);
}

static Core *case_form(DS *ds, Syntax *s) {
  if (nitems(s) < 2) return bad(ds, s, "malformed case: expected (case key clause ...)");
  Symbol *key = gensym(ds, "key");
  Loc loc = s->loc;
  Core *result = mk_unspec(loc);
  for (int j = nitems(s) - 1; j >= 2; j--) {
    Syntax *c = items(s)[j];
    if (!sx_is_list(c) || nitems(c) < 2) return bad(ds, c, "malformed case clause: expected ((datum ...) body ...)");
    Core *b = expr_seq(ds, items(c) + 1, nitems(c) - 1, c->loc);
    if (sx_is_sym(items(c)[0], K.kw_else)) {
      if (j != nitems(s) - 1) return bad(ds, c, "malformed case: 'else' clause must be last");
      result = b;
      continue;
    }
    Syntax *data = items(c)[0];
    if (!sx_is_list(data)) return bad(ds, data, "malformed case clause: expected a list of datums");
    Core *test = mk_bool(c->loc, false);
    for (int k = nitems(data) - 1; k >= 0; k--) {
      Syntax *dt = items(data)[k];
      Core *eq = mk_prim2(dt->loc, dt->kind == SX_STR || dt->kind == SX_LIST ? "equal?" : "eqv?",
                          mk_ref(dt->loc, key), mk_const(dt->loc, dt));
      test = k == nitems(data) - 1 ? eq : mk_if(dt->loc, eq, mk_bool(dt->loc, true), test);
    }
    result = mk_if(c->loc, test, b, result);
  }
  return mk_let1(loc, key, expr(ds, items(s)[1]), result);
}

static Core *when_form(DS *ds, Syntax *s, bool when) {
  if (nitems(s) < 3) return bad(ds, s, when ? "malformed when: expected (when test body ...)"
                                            : "malformed unless: expected (unless test body ...)");
  Core *b = expr_seq(ds, items(s) + 2, nitems(s) - 2, s->loc);
  Core *t = expr(ds, items(s)[1]);
  return when ? mk_if(s->loc, t, b, mk_unspec(s->loc)) : mk_if(s->loc, t, mk_unspec(s->loc), b);
}

/* {===== Quasiquote =====} */

static bool is_tagged(const Syntax *s, Symbol *tag) {
  return sx_is_list(s) && nitems(s) == 2 && sx_is_sym(items(s)[0], tag);
}

static bool has_unquote(const Syntax *s, int depth) {
  if (s->kind != SX_LIST) return false;
  if (is_tagged(s, K.kw_unquote) || is_tagged(s, K.kw_unquote_splicing)) return true;
  for (int j = 0; j < nitems(s); j++)
    if (has_unquote(items(s)[j], depth)) return true;
  return s->u.list.tail && has_unquote(s->u.list.tail, depth);
}

static Core *qq(DS *ds, Syntax *s, int depth);

static Core *qq_tagged(DS *ds, Syntax *s, const char *tag, Syntax *inner, int depth) {
  return mk_prim2(s->loc, "list", mk_const(s->loc, sx_sym(s->loc, sym_intern_cstr(tag))), qq(ds, inner, depth));
}

static Core *qq(DS *ds, Syntax *s, int depth) {
  if (!has_unquote(s, depth)) return mk_const(s->loc, s);
  if (is_tagged(s, K.kw_unquote)) {
    if (depth == 1) return expr(ds, items(s)[1]);
    return qq_tagged(ds, s, "unquote", items(s)[1], depth - 1);
  }
  if (is_tagged(s, K.kw_quasiquote)) return qq_tagged(ds, s, "quasiquote", items(s)[1], depth + 1);
  if (is_tagged(s, K.kw_unquote_splicing) && depth > 1)
    return qq_tagged(ds, s, "unquote-splicing", items(s)[1], depth - 1);
  Core *acc = s->u.list.tail ? qq(ds, s->u.list.tail, depth) : mk_const(s->loc, sx_list(s->loc, NULL, 0, NULL));
  for (int j = nitems(s) - 1; j >= 0; j--) {
    Syntax *x = items(s)[j];
    if (is_tagged(x, K.kw_unquote_splicing) && depth == 1)
      acc = mk_prim2(x->loc, "append", expr(ds, items(x)[1]), acc);
    else if (is_tagged(x, K.kw_unquote_splicing) || is_tagged(x, K.kw_unquote)) {
      if (sx_is_sym(items(x)[0], K.kw_unquote_splicing) && depth == 1)
        return bad(ds, x, "unquote-splicing outside a list");
      acc = mk_prim2(x->loc, "cons", qq(ds, x, depth), acc);
    } else
      acc = mk_prim2(x->loc, "cons", qq(ds, x, depth), acc);
  }
  return acc;
}

/* {===== match =====} */

/* The variables a clause's pattern has bound so far: each may appear once. */
typedef struct PatVars {
  Symbol **names;
  int n, cap;
} PatVars;

static bool add_pattern_var(DS *ds, PatVars *vars, Syntax *p) {
  for (int j = 0; j < vars->n; j++)
    if (vars->names[j] == p->u.sym) {
      diag_error(ds->d, p->loc, "pattern variable '%s' appears twice", p->u.sym->name);
      return false;
    }
  if (vars->n == vars->cap) {
    vars->cap = vars->cap ? vars->cap * 2 : 8;
    Symbol **nv = GC_MALLOC((size_t)vars->cap * sizeof(Symbol *));
    if (vars->n) memcpy(nv, vars->names, (size_t)vars->n * sizeof(Symbol *));
    vars->names = nv;
  }
  vars->names[vars->n++] = p->u.sym;
  return true;
}

static Pattern *mk_pattern(PatternKind k, Loc loc) {
  Pattern *p = GC_MALLOC(sizeof *p);
  p->kind = k;
  p->loc = loc;
  return p;
}

static Pattern *mk_datum_pattern(PatternKind k, Loc loc, Syntax *datum) {
  Pattern *p = mk_pattern(k, loc);
  p->u.datum = datum;
  return p;
}

/* Symbols, integers, booleans and () compare with eqv? (one fused
 * compare-and-jump); strings and other data with equal?. */
static PatternKind datum_pattern_kind(const Syntax *d) {
  bool atomic = d->kind == SX_SYM || d->kind == SX_INT || d->kind == SX_BOOL ||
                (d->kind == SX_LIST && d->u.list.n == 0 && !d->u.list.tail);
  return atomic ? PAT_EQV : PAT_EQUAL;
}

/* Checks pattern [p] and gives its core form, or NULL after reporting an
 * error.  [vars] holds the variables of the clause seen so far. */
static Pattern *pattern(DS *ds, Syntax *p, PatVars *vars) {
  Loc loc = p->loc;
  switch (p->kind) {
    case SX_INT:
    case SX_BOOL:
    case SX_STR:
      return mk_datum_pattern(datum_pattern_kind(p), loc, p);
    case SX_SYM:
      if (p->u.sym == K.kw_underscore) return mk_pattern(PAT_ANY, loc);
      if (p->u.sym == K.kw_nothing) return mk_pattern(PAT_NOTHING, loc);
      if (is_keyword(p->u.sym)) {
        diag_error(ds->d, loc, "malformed pattern: '%s' is a keyword", p->u.sym->name);
        return NULL;
      }
      if (!add_pattern_var(ds, vars, p)) return NULL;
      Pattern *var = mk_pattern(PAT_VAR, loc);
      var->u.var = p->u.sym;
      return var;
    case SX_LIST:
      break;
  }
  if (is_tagged(p, K.kw_quote)) return mk_datum_pattern(datum_pattern_kind(items(p)[1]), loc, items(p)[1]);
  if (is_tagged(p, K.kw_just)) {
    Pattern *just = mk_pattern(PAT_JUST, loc);
    just->u.sub = pattern(ds, items(p)[1], vars);
    return just->u.sub ? just : NULL;
  }
  Pattern *list = mk_pattern(PAT_LIST, loc);
  list->u.list.n = nitems(p);
  list->u.list.items = GC_MALLOC((size_t)(nitems(p) ? nitems(p) : 1) * sizeof(Pattern *));
  for (int j = 0; j < nitems(p); j++)
    if (!(list->u.list.items[j] = pattern(ds, items(p)[j], vars))) return NULL;
  if (p->u.list.tail && !(list->u.list.tail = pattern(ds, p->u.list.tail, vars))) return NULL;
  return list;
}

static Core *mk_match(Loc loc, Core *subject, Pattern *p, Core *then, Core *els) {
  Core *c = mk(CK_MATCH, loc);
  c->u.match.subject = subject;
  c->u.match.pattern = p;
  c->u.match.then = then;
  c->u.match.els = els;
  return c;
}

/* (match e clause ...) is (let ((m e)) clause-chain), each clause a
 * CK_MATCH on m whose else is the next clause, the last one's else
 * (%match-fail m).  A clause whose pattern cannot fail (_ or a variable)
 * ends the chain: the clauses after it are checked but never run. */
static Core *match_form(DS *ds, Syntax *s) {
  if (nitems(s) < 2) return bad(ds, s, "malformed match: expected (match expression (pattern body ...) ...)");
  Symbol *t = gensym(ds, "m");
  Loc loc = s->loc;
  Core **args = vec(1);
  args[0] = mk_ref(loc, t);
  Core *result = mk_call(loc, mk_builtin(loc, "%match-fail"), args, 1);
  for (int j = nitems(s) - 1; j >= 2; j--) {
    Syntax *c = items(s)[j];
    if (!sx_is_list(c) || nitems(c) < 2) return bad(ds, c, "malformed match clause: expected (pattern body ...)");
    PatVars vars = { 0 };
    Pattern *p = pattern(ds, items(c)[0], &vars);
    if (!p) return mk_unspec(loc);
    Core *b = body(ds, items(c) + 1, nitems(c) - 1, c->loc);
    if (p->kind == PAT_ANY) result = b;
    else if (p->kind == PAT_VAR) result = mk_let1(c->loc, p->u.var, mk_ref(c->loc, t), b);
    else result = mk_match(c->loc, mk_ref(c->loc, t), p, b, result);
  }
  return mk_let1(loc, t, expr(ds, items(s)[1]), result);
}

/* {===== do-notation =====} */

static bool is_bind_step(const Syntax *s) {
  return sx_is_list(s) && nitems(s) == 3 && sx_is_sym(items(s)[1], K.kw_bind);
}

static Core *do_steps(DS *ds, Syntax **st, int n, Loc loc) {
  Syntax *s = st[0];
  if (n == 1) {
    if (is_bind_step(s)) return bad(ds, s, "malformed do: the last step must be an expression, not a binding");
    return expr(ds, s);
  }
  if (is_bind_step(s)) {
    Syntax *var = items(s)[0];
    if (var->kind != SX_SYM || is_keyword(var->u.sym))
      return bad(ds, var, "malformed do binding: expected (name <- expression)");
    Core *init = named(expr(ds, items(s)[2]), var->u.sym);
    return mk_let1(s->loc, var->u.sym, init, do_steps(ds, st + 1, n - 1, loc));
  }
  Core **v = vec(2);
  v[0] = expr(ds, s);
  v[1] = do_steps(ds, st + 1, n - 1, loc);
  return mk_seq(loc, v, 2);
}

static Core *do_form(DS *ds, Syntax *s) {
  if (nitems(s) < 2) return bad(ds, s, "malformed do: expected (do step ... expression)");
  return do_steps(ds, items(s) + 1, nitems(s) - 1, s->loc);
}

/* {===== Definitions and bodies =====} */

/* Splits (define x e) / (define (f . params) body ...) into name + value. */
static bool define_parts(DS *ds, Syntax *s, Symbol **name, Core **value) {
  if (nitems(s) < 2) {
    diag_error(ds->d, s->loc, "malformed define: expected (define name expression) or (define (name param ...) body ...)");
    return false;
  }
  Syntax *target = items(s)[1];
  if (target->kind == SX_SYM) {
    if (is_keyword(target->u.sym)) {
      diag_error(ds->d, target->loc, "cannot define keyword '%s'", target->u.sym->name);
      return false;
    }
    if (nitems(s) > 3) {
      diag_error(ds->d, s->loc, "malformed define: expected (define name expression)");
      return false;
    }
    *name = target->u.sym;
    *value = nitems(s) == 3 ? named(expr(ds, items(s)[2]), *name) : mk_unspec(s->loc);
    return true;
  }
  if (target->kind == SX_LIST && nitems(target) >= 1 && items(target)[0]->kind == SX_SYM) {
    *name = items(target)[0]->u.sym;
    if (nitems(s) < 3) {
      diag_error(ds->d, s->loc, "malformed define: empty body");
      return false;
    }
    Syntax *plist = sx_list(target->loc, items(target) + 1, nitems(target) - 1, target->u.list.tail);
    *value = make_lambda(ds, s, plist, items(s) + 2, nitems(s) - 2, *name);
    return true;
  }
  diag_error(ds->d, target->loc, "malformed define: expected a name or (name param ...)");
  return false;
}

static bool is_form(const Syntax *s, Symbol *kw) {
  return s->kind == SX_LIST && nitems(s) > 0 && sx_is_sym(items(s)[0], kw);
}

/* Flattens (begin ...) at body level so definitions inside it count. */
static void flatten_body(Syntax **forms, int n, Syntax ***out, int *nout, int *cap) {
  for (int j = 0; j < n; j++) {
    if (is_form(forms[j], K.kw_begin) && !forms[j]->u.list.tail) {
      flatten_body(items(forms[j]) + 1, nitems(forms[j]) - 1, out, nout, cap);
      continue;
    }
    if (*nout == *cap) {
      *cap = *cap ? *cap * 2 : 8;
      Syntax **nv = GC_MALLOC((size_t)*cap * sizeof(Syntax *));
      if (*nout) memcpy(nv, *out, (size_t)*nout * sizeof(Syntax *));
      *out = nv;
    }
    (*out)[(*nout)++] = forms[j];
  }
}

/* A body: internal definitions become one letrec*; expressions between
 * definitions are kept in order as bindings of fresh names. */
static Core *body(DS *ds, Syntax **forms0, int n0, Loc loc) {
  Syntax **forms = NULL;
  int n = 0, cap = 0;
  flatten_body(forms0, n0, &forms, &n, &cap);
  int last_def = -1;
  for (int j = 0; j < n; j++)
    if (is_form(forms[j], K.kw_define)) last_def = j;
  if (last_def < 0) return expr_seq(ds, forms, n, loc);
  if (last_def == n - 1) return bad(ds, forms[last_def], "a body must end with an expression, not a definition");
  Core *c = mk(CK_LETREC, loc);
  c->u.let.names = GC_MALLOC((size_t)(last_def + 1) * sizeof(Symbol *));
  c->u.let.inits = vec(last_def + 1);
  c->u.let.locs = GC_MALLOC((size_t)(last_def + 1) * sizeof(Loc));
  int k = 0;
  for (int j = 0; j <= last_def; j++) {
    Symbol *name;
    Core *value;
    if (is_form(forms[j], K.kw_define)) {
      if (!define_parts(ds, forms[j], &name, &value)) continue;
      for (int i = 0; i < k; i++)
        if (c->u.let.names[i] == name) {
          diag_error(ds->d, forms[j]->loc, "duplicate definition of '%s' in body", name->name);
          break;
        }
    } else {
      name = gensym(ds, "seq");
      value = expr(ds, forms[j]);
    }
    c->u.let.names[k] = name;
    c->u.let.inits[k] = value;
    c->u.let.locs[k] = forms[j]->loc;
    k++;
  }
  c->u.let.n = k;
  c->u.let.body = expr_seq(ds, forms + last_def + 1, n - last_def - 1, loc);
  return c;
}

/* {===== Dispatch =====} */

static Core *call_form(DS *ds, Syntax *s) {
  if (s->u.list.tail) return bad(ds, s, "malformed call: a call cannot be a dotted list");
  int n = nitems(s);
  Core **args = vec(n - 1);
  Core *fn = expr(ds, items(s)[0]);
  for (int j = 1; j < n; j++) args[j - 1] = expr(ds, items(s)[j]);
  return mk_call(s->loc, fn, args, n - 1);
}

static Core *expr(DS *ds, Syntax *s) {
  switch (s->kind) {
    case SX_INT:
    case SX_STR:
    case SX_BOOL:
      return mk_const(s->loc, s);
    case SX_SYM:
      if (is_keyword(s->u.sym)) {
        diag_error(ds->d, s->loc, "keyword '%s' cannot be used as a variable", s->u.sym->name);
        return mk_unspec(s->loc);
      }
      return mk_ref(s->loc, s->u.sym);
    case SX_LIST:
      break;
  }
  if (nitems(s) == 0) return bad(ds, s, "empty combination '()': quote it to get the empty list");
  Syntax *head = items(s)[0];
  if (head->kind == SX_SYM && is_keyword(head->u.sym) && !s->u.list.tail) {
    Symbol *h = head->u.sym;
    int n = nitems(s);
    if (h == K.kw_quote) {
      if (n != 2) return bad(ds, s, "malformed quote: expected (quote datum)");
      return mk_const(s->loc, items(s)[1]);
    }
    if (h == K.kw_quasiquote) {
      if (n != 2) return bad(ds, s, "malformed quasiquote: expected (quasiquote datum)");
      return qq(ds, items(s)[1], 1);
    }
    if (h == K.kw_unquote || h == K.kw_unquote_splicing) return bad(ds, s, "unquote outside quasiquote");
    if (h == K.kw_lambda) return lambda_form(ds, s);
    if (h == K.kw_define) return bad(ds, s, "definition not allowed here: define belongs at the top level or at the start of a body");
    if (h == K.kw_let) return let_form(ds, s, CK_LET, "let");
    if (h == K.kw_let_star) return let_form(ds, s, CK_LET, "let*");
    if (h == K.kw_letrec) return let_form(ds, s, CK_LETREC, "letrec");
    if (h == K.kw_letrec_star) return let_form(ds, s, CK_LETREC, "letrec*");
    if (h == K.kw_if) return if_form(ds, s);
    if (h == K.kw_cond) return cond_clauses(ds, items(s) + 1, n - 1, s->loc);
    if (h == K.kw_case) return case_form(ds, s);
    if (h == K.kw_when) return when_form(ds, s, true);
    if (h == K.kw_unless) return when_form(ds, s, false);
    if (h == K.kw_and) return and_form(ds, items(s) + 1, n - 1, s->loc);
    if (h == K.kw_or) return or_form(ds, items(s) + 1, n - 1, s->loc);
    if (h == K.kw_begin) return expr_seq(ds, items(s) + 1, n - 1, s->loc);
    if (h == K.kw_match) return match_form(ds, s);
    if (h == K.kw_do) return do_form(ds, s);
  }
  return call_form(ds, s);
}

/* (behavior NAME (MSG) body ...) and (pure NAME (ARG ...) body ...) */
static Core *decl_form(DS *ds, Syntax *s, DeclForm form) {
  const char *kw = form == DF_BEHAVIOR ? "behavior" : "pure";
  if (nitems(s) < 4 || items(s)[1]->kind != SX_SYM || items(s)[2]->kind != SX_LIST) {
    diag_error(ds->d, s->loc, form == DF_BEHAVIOR ? "malformed behavior: expected (behavior name (message) body ...)"
                                                  : "malformed pure: expected (pure name (param ...) body ...)");
    return mk_unspec(s->loc);
  }
  Syntax *plist = items(s)[2];
  if (form == DF_BEHAVIOR && (nitems(plist) != 1 || plist->u.list.tail)) {
    diag_error(ds->d, plist->loc, "malformed behavior: expected exactly one message parameter");
    return mk_unspec(s->loc);
  }
  Core *c = mk(CK_DECL, s->loc);
  c->u.decl.form = form;
  c->u.decl.name = items(s)[1]->u.sym;
  c->u.decl.lambda = make_lambda(ds, s, plist, items(s) + 3, nitems(s) - 3, c->u.decl.name);
  (void)kw;
  return c;
}

static void toplevel(DS *ds, Syntax *s, Core ***out, int *n, int *cap) {
  if (is_form(s, K.kw_begin) && !s->u.list.tail) {
    for (int j = 1; j < nitems(s); j++) toplevel(ds, items(s)[j], out, n, cap);
    return;
  }
  Core *c;
  if (is_form(s, K.kw_define)) {
    Symbol *name;
    Core *value;
    if (!define_parts(ds, s, &name, &value)) return;
    c = mk(CK_DEFINE, s->loc);
    c->u.define.name = name;
    c->u.define.value = value;
  } else if (is_form(s, K.kw_behavior)) {
    c = decl_form(ds, s, DF_BEHAVIOR);
  } else if (is_form(s, K.kw_pure)) {
    c = decl_form(ds, s, DF_PURE);
  } else {
    c = expr(ds, s);
  }
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 16;
    Core **nv = vec(*cap);
    if (*n) memcpy(nv, *out, (size_t)*n * sizeof(Core *));
    *out = nv;
  }
  (*out)[(*n)++] = c;
}

bool desugar_program(Diag *d, const SyntaxList *in, CoreProgram *out) {
  init_keywords();
  DS ds = { d, 0 };
  int before = d->nerrors, cap = 0;
  out->forms = NULL;
  out->n = 0;
  for (int j = 0; j < in->n; j++) toplevel(&ds, in->items[j], &out->forms, &out->n, &cap);
  return d->nerrors == before;
}
