/* net/wire.c — messages to JSON text and back, and frames (net/wire.h says
 * what is accepted and why).  Encoding writes the text directly, values
 * through the printer's tagged JSON (v_print_json); decoding parses with
 * json-c, then walks the tree into VM values, checking every field, and
 * frees the tree. */
#include <gc.h>
#include <json.h>
#include <limits.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net/wire.h"

/* {===== The message table =====} */

const char *const wire_msg_names[MSG__COUNT] = {
#define WIRE_MSG(KIND, type, scope) type,
#include "net/messages.def"
};

enum { SCOPE_REFERENCE, SCOPE_OURS };
static const unsigned char msg_scope[MSG__COUNT] = {
#define WIRE_MSG(KIND, type, scope) SCOPE_##scope,
#include "net/messages.def"
};

typedef enum FieldKind { FK_U64, FK_VALUE, FK_STR, FK_RESULT, FK_JSON } FieldKind;

static const FieldKind field_kind[WF__COUNT] = {
#define WIRE_FIELD(field, kind) FK_##kind,
#include "net/messages.def"
};

static const char *const field_names[WF__COUNT] = {
#define WIRE_FIELD(field, kind) #field,
#include "net/messages.def"
};

static const size_t field_offset[WF__COUNT] = {
#define WIRE_FIELD(field, kind) offsetof(WireMsg, field),
#include "net/messages.def"
};

/* The fields of every message, in wire order, a message's together. */
typedef struct MsgField { WireKind msg; WireField field; } MsgField;
static const MsgField msg_fields[] = {
#define WIRE_IN(KIND, field) { MSG_##KIND, WF_##field },
#include "net/messages.def"
};
#define N_MSG_FIELDS (sizeof msg_fields / sizeof msg_fields[0])

/* Whether the [len] bytes at [s] are [word]. */
static bool is(const char *s, size_t len, const char *word) {
  return strlen(word) == len && memcmp(s, word, len) == 0;
}

bool wire_msg_ours_only(WireKind kind) {
  return kind < MSG__COUNT && msg_scope[kind] == SCOPE_OURS;
}

bool wire_msg_kind(const char *name, size_t len, WireKind *out) {
  for (int k = 0; k < MSG__COUNT; k++) {
    if (is(name, len, wire_msg_names[k])) {
      *out = (WireKind)k;
      return true;
    }
  }
  return false;
}

/* {===== Encoding =====}
 * Compact, "type" first, fields in messages.def's order: what serde_json
 * writes for the reference's internally tagged NodeMessage. */

static void encode_string(Buf *out, const String *s) {
  if (s) buf_json_string(out, s->data, s->len);
  else buf_lit(out, "\"\"");
}

static void encode_result(Buf *out, const WireResult *r) {
  if (r->ok) {
    buf_lit(out, "{\"Ok\":");
    v_print_json(out, r->value);
  } else {
    buf_lit(out, "{\"Err\":");
    encode_string(out, r->error);
  }
  buf_putc(out, '}');
}

static void encode_field(Buf *out, const WireMsg *m, WireField f) {
  const char *slot = (const char *)m + field_offset[f];
  buf_lit(out, ",\"");
  buf_puts(out, field_names[f]);
  buf_lit(out, "\":");
  switch (field_kind[f]) {
    case FK_U64: buf_u64(out, *(const uint64_t *)slot); break;
    case FK_VALUE: v_print_json(out, *(const Value *)slot); break;
    case FK_STR: encode_string(out, *(String *const *)slot); break;
    case FK_RESULT: encode_result(out, (const WireResult *)slot); break;
    case FK_JSON: {
      const String *s = *(String *const *)slot;
      if (s) buf_put(out, s->data, s->len);
      else buf_lit(out, "null");
      break;
    }
  }
}

void wire_encode(Buf *out, const WireMsg *m) {
  if (m->kind >= MSG__COUNT) abort();
  buf_lit(out, "{\"type\":\"");
  buf_puts(out, wire_msg_names[m->kind]);
  buf_putc(out, '"');
  for (size_t i = 0; i < N_MSG_FIELDS; i++)
    if (msg_fields[i].msg == m->kind) encode_field(out, m, msg_fields[i].field);
  buf_putc(out, '}');
}

/* {===== Decoding: errors and JSON =====} */

typedef struct Dec {
  char *err;
  size_t errlen;
  const char *msg;     /* the message's type, once known */
  const char *field;   /* the field being read, if any */
  const WireProcs *procs;  /* builds procedures (a continuation), or NULL */
} Dec;

/* Writes the error, after "MSG: field "F": " as far as they are known. */
static bool fail(Dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(Dec *d, const char *fmt, ...) {
  int n = 0;
  if (d->msg && d->field) n = snprintf(d->err, d->errlen, "%s: field \"%s\": ", d->msg, d->field);
  else if (d->msg) n = snprintf(d->err, d->errlen, "%s: ", d->msg);
  if (n < 0 || (size_t)n >= d->errlen) return false;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->err + n, d->errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return false;
}

/* "WHAT "NAME"", the name a peer sent quoted as JSON and cut to 40 bytes
 * (at a character boundary). */
static bool fail_name(Dec *d, const char *what, const char *name, size_t len) {
  size_t cut = len;
  if (cut > 40) {
    cut = 40;
    while (cut > 0 && ((unsigned char)name[cut] & 0xC0) == 0x80) cut--;
  }
  Buf q = { 0 };
  buf_json_string(&q, name, cut);
  fail(d, "%s %.*s%s", what, (int)q.n, q.p, cut < len ? "..." : "");
  buf_free(&q);
  return false;
}

/* What a JSON value is, for "expected X, got Y". */
static const char *describe(json_object *j) {
  switch (json_object_get_type(j)) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_double: return "a number with a fraction or exponent";
    case json_type_int: return json_object_get_int64(j) < 0 ? "a negative number" : "a number";
    case json_type_object: return "an object";
    case json_type_array: return "an array";
    case json_type_string: return "a string";
  }
  return "something else";
}

/* The tokener every parse uses, reset: making one clears its stack of
 * WIRE_MAX_DEPTH levels (32 KB), which cost more than parsing a call.
 * Nodes decode on one thread. */
static json_tokener *tokener(void) {
  static json_tokener *tok;
  if (!tok) {
    /* json-c's depth counts the value inside the containers too. */
    tok = json_tokener_new_ex(WIRE_MAX_DEPTH + 1);
    if (!tok) abort();
  } else {
    json_tokener_reset(tok);
  }
  json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
  return tok;
}

/* The C locale as an object.  json-c parses every text in the C locale,
 * and to switch to it copies the thread's locale and builds a new one
 * (duplocale, newlocale, freelocale: an eighth of parsing a small
 * message), except when the thread is in this very object already:
 * glibc then hands it back unchanged. */
static locale_t c_locale(void) {
  static locale_t c;
  if (!c) c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
  return c;
}

/* json_tokener_parse_ex in the C locale. */
static json_object *parse_in_c(json_tokener *tok, const char *text, int len) {
  locale_t c = c_locale();
  locale_t old = c ? uselocale(c) : (locale_t)0;
  json_object *j = json_tokener_parse_ex(tok, text, len);
  if (c) uselocale(old);
  return j;
}

/* Parses [len] bytes strictly into a tree the caller frees (JSON null is
 * NULL); false after fail() if they are not one JSON value. */
static bool parse(Dec *d, const char *text, size_t len, json_object **out) {
  if (len > INT_MAX) return fail(d, "message too long: %zu bytes", len);
  json_tokener *tok = tokener();
  json_object *j = parse_in_c(tok, text, (int)len);
  enum json_tokener_error e = json_tokener_get_error(tok);
  size_t end = json_tokener_get_parse_end(tok);
  if (e == json_tokener_continue) {
    /* json-c waits for more: the text ends inside a value, or with a
     * number, which only a terminator completes. */
    j = parse_in_c(tok, "", 1);
    e = json_tokener_get_error(tok);
    end = len;
  }
  if (e == json_tokener_error_depth)
    fail(d, "malformed JSON at byte %zu: nested deeper than %d", end, WIRE_MAX_DEPTH);
  else if (e != json_tokener_success)
    fail(d, "malformed JSON at byte %zu: %s", end, json_tokener_error_desc(e));
  else if (end < len)
    fail(d, "malformed JSON at byte %zu: more after the message", end);
  else {
    *out = j;
    return true;
  }
  json_object_put(j);
  return false;
}

/* Whether the integer literal [s] ([n] bytes, valid JSON) is in
 * [INT64_MIN, UINT64_MAX]. */
static bool integer_in_range(const char *s, size_t n) {
  const char *max = "18446744073709551615";
  if (*s == '-') {
    s++;
    n--;
    max = "9223372036854775808";
  }
  size_t m = strlen(max);
  return n < m || (n == m && memcmp(s, max, m) <= 0);
}

/* Whether the word at [s] (letters, up to [len] bytes) is true, false or
 * null; gives its length in [n]. */
static bool json_word(const char *s, size_t len, size_t *n) {
  size_t i = 0;
  while (i < len && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) i++;
  *n = i;
  return is(s, i, "true") || is(s, i, "false") || is(s, i, "null");
}

/* What a character is to check_text, one load each. */
enum { CH_OTHER, CH_QUOTE, CH_APOSTROPHE, CH_LETTER, CH_DIGIT, CH_SIGN, CH_FRACTION };
#define LETTERS(x) ['a' + (x)] = CH_LETTER, ['A' + (x)] = CH_LETTER
static const unsigned char char_class[256] = {
  ['"'] = CH_QUOTE, ['\''] = CH_APOSTROPHE,
  ['0'] = CH_DIGIT, ['1'] = CH_DIGIT, ['2'] = CH_DIGIT, ['3'] = CH_DIGIT, ['4'] = CH_DIGIT,
  ['5'] = CH_DIGIT, ['6'] = CH_DIGIT, ['7'] = CH_DIGIT, ['8'] = CH_DIGIT, ['9'] = CH_DIGIT,
  ['-'] = CH_SIGN, ['+'] = CH_SIGN, ['.'] = CH_FRACTION,
  LETTERS(0), LETTERS(1), LETTERS(2), LETTERS(3), LETTERS(4), LETTERS(5), LETTERS(6),
  LETTERS(7), LETTERS(8), LETTERS(9), LETTERS(10), LETTERS(11), LETTERS(12), LETTERS(13),
  LETTERS(14), LETTERS(15), LETTERS(16), LETTERS(17), LETTERS(18), LETTERS(19), LETTERS(20),
  LETTERS(21), LETTERS(22), LETTERS(23), LETTERS(24), LETTERS(25),
};
#undef LETTERS

static inline int class_of(char c) { return char_class[(unsigned char)c]; }

/* The index after the string that starts at s[i], in valid JSON: the
 * first quote not escaped, found many bytes at a time by memchr. */
static size_t string_end(const char *s, size_t i, size_t len) {
  const char *q = s + i + 1;
  for (;;) {
    q = memchr(q, '"', len - (size_t)(q - s));
    size_t backslashes = 0;
    while (q[-1 - (ptrdiff_t)backslashes] == '\\') backslashes++;
    if (backslashes % 2 == 0) return (size_t)(q - s) + 1;
    q++;
  }
}

/* Refuses what json-c lets through but we must not take, even in its
 * strict mode: integers outside the 64-bit range (json-c clamps them to its
 * ends), single-quoted object keys, NaN and Infinity.  [s] is otherwise
 * known to be JSON, so strings are skipped by their quotes. */
static bool check_text(Dec *d, const char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    switch (class_of(s[i])) {
    case CH_QUOTE:
      i = string_end(s, i, len);
      break;
    case CH_APOSTROPHE:
      return fail(d, "malformed JSON at byte %zu: single-quoted string", i);
    case CH_LETTER: {
      size_t n;
      if (!json_word(s + i, len - i, &n))
        return fail(d, "malformed JSON at byte %zu: %.*s is not JSON", i, (int)n, s + i);
      i += n;
      break;
    }
    case CH_DIGIT:
    case CH_SIGN: {
      size_t start = i++;
      while (i < len && class_of(s[i]) == CH_DIGIT) i++;
      if (i < len && (s[i] == '.' || s[i] == 'e' || s[i] == 'E')) {
        /* Not an integer: nothing to check ("e" is a letter to the table). */
        while (i < len && (class_of(s[i]) >= CH_DIGIT || s[i] == 'e' || s[i] == 'E')) i++;
      } else if (!integer_in_range(s + start, i - start)) {
        return fail(d, "number out of the 64-bit range at byte %zu: %.*s", start, (int)(i - start), s + start);
      }
      break;
    }
    default:
      i++;
    }
  }
  return true;
}

/* {===== Decoding: fields and values =====} */

/* "TAG: " before a problem inside a tagged value, "" for a field. */
#define TAG_FMT "%s%s"
#define TAG_ARGS(tag) (tag) ? (tag) : "", (tag) ? ": " : ""

static bool get_u64(Dec *d, const char *tag, json_object *j, uint64_t *out) {
  if (!json_object_is_type(j, json_type_int) || json_object_get_int64(j) < 0)
    return fail(d, TAG_FMT "expected an unsigned 64-bit integer, got %s", TAG_ARGS(tag), describe(j));
  *out = json_object_get_uint64(j);
  return true;
}

static bool get_string(Dec *d, const char *tag, json_object *j, String **out) {
  if (!json_object_is_type(j, json_type_string))
    return fail(d, TAG_FMT "expected a string, got %s", TAG_ARGS(tag), describe(j));
  *out = v_string(json_object_get_string(j), (size_t)json_object_get_string_len(j)).as.str;
  return true;
}

/* An object of one key: its [key] and [value]; [what] names the keys
 * expected, for the error. */
static bool one_key(Dec *d, const char *what, json_object *j, const char **key, json_object **value) {
  if (!json_object_is_type(j, json_type_object))
    return fail(d, "expected %s, got %s", what, describe(j));
  int n = json_object_object_length(j);
  if (n != 1) return fail(d, "expected %s, got an object with %d keys", what, n);
  json_object_object_foreach(j, k, v) {
    *key = k;
    *value = v;
  }
  return true;
}

static bool decode_value(Dec *d, json_object *j, Value *out);

static bool dec_nat(Dec *d, const char *tag, json_object *j, Value *out) {
  uint64_t u = 0;
  if (!get_u64(d, tag, j, &u)) return false;
  if (u > INT64_MAX)
    return fail(d, "Nat %llu is above the largest integer, %lld", (unsigned long long)u, (long long)INT64_MAX);
  *out = v_int((int64_t)u);
  return true;
}

static bool dec_int(Dec *d, const char *tag, json_object *j, Value *out) {
  if (!json_object_is_type(j, json_type_int))
    return fail(d, "Int: expected an integer, got %s", describe(j));
  int64_t i = json_object_get_int64(j);
  if (i == INT64_MAX && json_object_get_uint64(j) > INT64_MAX)
    return fail(d, "Int %llu is above the largest integer, %lld",
                (unsigned long long)json_object_get_uint64(j), (long long)INT64_MAX);
  *out = v_int(i);
  return true;
}

static bool dec_bool(Dec *d, const char *tag, json_object *j, Value *out) {
  if (!json_object_is_type(j, json_type_boolean))
    return fail(d, "Bool: expected true or false, got %s", describe(j));
  *out = v_bool(json_object_get_boolean(j));
  return true;
}

static bool dec_str(Dec *d, const char *tag, json_object *j, Value *out) {
  String *s = NULL;
  if (!get_string(d, tag, j, &s)) return false;
  *out = v_tagged(T_STR, s);
  return true;
}

static bool dec_sym(Dec *d, const char *tag, json_object *j, Value *out) {
  String *s = NULL;
  if (!get_string(d, tag, j, &s)) return false;
  *out = v_sym(sym_intern(s->data, s->len));
  return true;
}

/* Built front to back, so the first bad element is the one reported. */
static bool dec_list(Dec *d, const char *tag, json_object *j, Value *out) {
  if (!json_object_is_type(j, json_type_array))
    return fail(d, "List: expected an array, got %s", describe(j));
  Value head = v_nil();
  Pair *last = NULL;
  size_t n = json_object_array_length(j);
  for (size_t i = 0; i < n; i++) {
    Value v;
    if (!decode_value(d, json_object_array_get_idx(j, i), &v)) return false;
    Value cell = v_cons(v, v_nil());
    if (last) last->cdr = cell;
    else head = cell;
    last = cell.as.pair;
  }
  *out = head;
  return true;
}

static bool dec_pair(Dec *d, const char *tag, json_object *j, Value *out) {
  if (!json_object_is_type(j, json_type_array))
    return fail(d, "Pair: expected an array of two values, got %s", describe(j));
  size_t n = json_object_array_length(j);
  if (n != 2) return fail(d, "Pair: expected an array of two values, got an array of %zu", n);
  Value car, cdr;
  if (!decode_value(d, json_object_array_get_idx(j, 0), &car)) return false;
  if (!decode_value(d, json_object_array_get_idx(j, 1), &cdr)) return false;
  *out = v_cons(car, cdr);
  return true;
}

static bool dec_just(Dec *d, const char *tag, json_object *j, Value *out) {
  Value v;
  if (!decode_value(d, j, &v)) return false;
  *out = v_just(v);
  return true;
}

static bool dec_ref(Dec *d, const char *tag, json_object *j, Value *out, Tag t) {
  uint64_t u = 0;
  if (!get_u64(d, tag, j, &u)) return false;
  *out = v_ref(t, u);
  return true;
}

static bool dec_objref(Dec *d, const char *tag, json_object *j, Value *out) {
  return dec_ref(d, tag, j, out, T_OBJREF);
}

static bool dec_txref(Dec *d, const char *tag, json_object *j, Value *out) {
  return dec_ref(d, tag, j, out, T_TXREF);
}

static bool untransferable(Dec *d, const char *tag, json_object *j, Value *out) {
  return fail(d, "%s values cannot be sent between machines", tag);
}

/* {"module": HASH, "proto": N, "up": [value...]}, in a continuation. */
static bool dec_closure(Dec *d, const char *tag, json_object *j, Value *out) {
  if (!d->procs) return untransferable(d, "Procedure", j, out);
  json_object *module, *proto, *up;
  if (!json_object_is_type(j, json_type_object) || !json_object_object_get_ex(j, "module", &module) ||
      !json_object_object_get_ex(j, "proto", &proto) || !json_object_object_get_ex(j, "up", &up) ||
      !json_object_is_type(module, json_type_string) || !json_object_is_type(up, json_type_array))
    return fail(d, "%s: expected {\"module\": string, \"proto\": number, \"up\": [values]}", tag);
  uint64_t index = 0;
  if (!get_u64(d, tag, proto, &index)) return false;
  size_t n = json_object_array_length(up);
  Value *ups = GC_MALLOC((n ? n : 1) * sizeof *ups);
  for (size_t i = 0; i < n; i++)
    if (!decode_value(d, json_object_array_get_idx(up, i), &ups[i])) return false;
  char why[WIRE_ERR_MAX];
  if (!d->procs->closure(d->procs->ctx, json_object_get_string(module), index, ups, n, out, why, sizeof why))
    return fail(d, "%s: %s", tag, why);
  return true;
}

static bool dec_prim(Dec *d, const char *tag, json_object *j, Value *out) {
  if (!d->procs) return untransferable(d, "Procedure", j, out);
  if (!json_object_is_type(j, json_type_string)) return fail(d, "%s: expected a string, got %s", tag, describe(j));
  char why[WIRE_ERR_MAX];
  if (!d->procs->prim(d->procs->ctx, json_object_get_string(j), out, why, sizeof why))
    return fail(d, "%s: %s", tag, why);
  return true;
}

/* The tags of v_print_json whose value is an object {"Tag": payload}. */
typedef bool (*TagDecoder)(Dec *d, const char *tag, json_object *j, Value *out);
static const struct { const char *tag; TagDecoder decode; } object_tags[] = {
  { "Nat", dec_nat },     { "Int", dec_int },         { "Bool", dec_bool },
  { "Str", dec_str },     { "Sym", dec_sym },         { "List", dec_list },
  { "Pair", dec_pair },   { "Just", dec_just },       { "ObjectRef", dec_objref },
  { "TxRef", dec_txref }, { "Procedure", untransferable }, { "Program", untransferable },
  { "Closure", dec_closure }, { "Prim", dec_prim },
};

/* The tags without a payload, written "Tag" (serde also reads {"Tag":
 * null}); false if [tag] is none of them. */
static bool decode_unit(Dec *d, const char *tag, size_t len, Value *out, bool *ok) {
  if (is(tag, len, "Nothing")) *out = v_nothing();
  else if (is(tag, len, "Unit")) *out = v_unspec();
  else if (is(tag, len, "Opaque")) *ok = untransferable(d, "Opaque", NULL, out);
  else if (is(tag, len, "Undefined") && d->procs) *out = v_undef();  /* a continuation's unset slot */
  else return false;
  return true;
}

/* Recursion is bounded: every level is an object of the JSON, which
 * json-c let nest at most WIRE_MAX_DEPTH deep. */
static bool decode_value(Dec *d, json_object *j, Value *out) {
  bool ok = true;
  if (json_object_is_type(j, json_type_string)) {
    const char *s = json_object_get_string(j);
    size_t len = (size_t)json_object_get_string_len(j);
    if (decode_unit(d, s, len, out, &ok)) return ok;
    return fail_name(d, "unknown value tag", s, len);
  }
  const char *tag;
  json_object *payload;
  if (!one_key(d, "a value (an object with one key, or \"Nothing\" or \"Unit\")", j, &tag, &payload))
    return false;
  for (size_t i = 0; i < sizeof object_tags / sizeof object_tags[0]; i++)
    if (strcmp(tag, object_tags[i].tag) == 0) return object_tags[i].decode(d, object_tags[i].tag, payload, out);
  if (decode_unit(d, tag, strlen(tag), out, &ok)) {
    if (ok && payload != NULL) return fail(d, "%s: expected null, got %s", tag, describe(payload));
    return ok;
  }
  return fail_name(d, "unknown value tag", tag, strlen(tag));
}

static bool decode_result(Dec *d, json_object *j, WireResult *out) {
  const char *key;
  json_object *v;
  if (!one_key(d, "{\"Ok\": value} or {\"Err\": string}", j, &key, &v)) return false;
  if (strcmp(key, "Ok") == 0) {
    out->ok = true;
    return decode_value(d, v, &out->value);
  }
  if (strcmp(key, "Err") == 0) {
    out->ok = false;
    return get_string(d, "Err", v, &out->error);
  }
  return fail_name(d, "expected \"Ok\" or \"Err\", got", key, strlen(key));
}

static bool decode_field(Dec *d, json_object *j, WireMsg *m, WireField f) {
  char *slot = (char *)m + field_offset[f];
  switch (field_kind[f]) {
    case FK_U64: return get_u64(d, NULL, j, (uint64_t *)slot);
    case FK_VALUE: return decode_value(d, j, (Value *)slot);
    case FK_STR: return get_string(d, NULL, j, (String **)slot);
    case FK_RESULT: return decode_result(d, j, (WireResult *)slot);
    case FK_JSON: {
      size_t len;
      const char *text = json_object_to_json_string_length(j, JSON_C_TO_STRING_PLAIN, &len);
      *(String **)slot = v_string(text, len).as.str;
      return true;
    }
  }
  return false;
}

/* {===== Decoding: messages =====} */

static bool decode_kind(Dec *d, json_object *j, WireMsg *out) {
  json_object *type;
  if (!json_object_is_type(j, json_type_object))
    return fail(d, "expected a message (a JSON object), got %s", describe(j));
  if (!json_object_object_get_ex(j, "type", &type)) return fail(d, "missing field \"type\"");
  if (!json_object_is_type(type, json_type_string))
    return fail(d, "field \"type\": expected a string, got %s", describe(type));
  const char *name = json_object_get_string(type);
  size_t len = (size_t)json_object_get_string_len(type);
  if (!wire_msg_kind(name, len, &out->kind)) return fail_name(d, "unknown message type", name, len);
  d->msg = wire_msg_names[out->kind];
  return true;
}

static bool decode_msg(Dec *d, json_object *j, WireMsg *out) {
  if (!decode_kind(d, j, out)) return false;
  for (size_t i = 0; i < N_MSG_FIELDS; i++) {
    if (msg_fields[i].msg != out->kind) continue;
    WireField f = msg_fields[i].field;
    json_object *v;
    d->field = NULL;
    if (!json_object_object_get_ex(j, field_names[f], &v)) return fail(d, "missing field \"%s\"", field_names[f]);
    d->field = field_names[f];
    if (!decode_field(d, v, out, f)) return false;
    out->have |= 1u << f;
  }
  return true;
}

/* parse, then check_text: the tree, or false with nothing to free. */
static bool parse_checked(Dec *d, const char *text, size_t len, json_object **out) {
  if (!parse(d, text, len, out)) return false;
  if (check_text(d, text, len)) return true;
  json_object_put(*out);
  return false;
}

bool wire_json_parse(const char *text, size_t len, json_object **out, char *err, size_t errlen) {
  Dec d = { err, errlen, NULL, NULL, NULL };
  if (errlen) err[0] = '\0';
  return parse_checked(&d, text, len, out);
}

bool wire_json_value(json_object *j, const WireProcs *procs, Value *out, char *err, size_t errlen) {
  Dec d = { err, errlen, NULL, NULL, procs };
  if (errlen) err[0] = '\0';
  return decode_value(&d, j, out);
}

bool wire_decode(const char *json, size_t len, WireMsg *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  out->kind = MSG__COUNT;
  if (errlen) err[0] = '\0';
  Dec d = { err, errlen, NULL, NULL, NULL };
  json_object *j = NULL;
  if (!parse_checked(&d, json, len, &j)) return false;
  bool ok = decode_msg(&d, j, out);
  json_object_put(j);
  return ok;
}

/* {===== Frames =====} */

static void put_be32(char *p, uint32_t n) {
  p[0] = (char)(n >> 24);
  p[1] = (char)(n >> 16);
  p[2] = (char)(n >> 8);
  p[3] = (char)n;
}

static uint32_t get_be32(const char *p) {
  const unsigned char *u = (const unsigned char *)p;
  return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

/* The reference's message for a frame over the limit, with the limit. */
static void too_large(char *err, size_t errlen, size_t len, size_t limit) {
  snprintf(err, errlen, "frame too large: %zu bytes (limit %zu)", len, limit);
}

/* Closes the frame whose length prefix is at [at] in [out]: writes the
 * prefix, or takes the frame out again if its payload is over [limit]. */
static bool close_frame(Buf *out, size_t at, size_t limit, char *err, size_t errlen) {
  size_t len = out->n - at - 4;
  if (limit > UINT32_MAX) limit = UINT32_MAX;
  if (len > limit) {
    out->n = at;
    too_large(err, errlen, len, limit);
    return false;
  }
  put_be32(out->p + at, (uint32_t)len);
  return true;
}

bool wire_frame(Buf *out, const char *payload, size_t len, size_t limit, char *err, size_t errlen) {
  size_t at = out->n;
  if (len > limit) {
    too_large(err, errlen, len, limit);
    return false;
  }
  buf_lit(out, "\0\0\0\0");
  buf_put(out, payload, len);
  return close_frame(out, at, limit, err, errlen);
}

bool wire_frame_msg(Buf *out, const WireMsg *m, size_t limit, char *err, size_t errlen) {
  size_t at = out->n;
  buf_lit(out, "\0\0\0\0");
  wire_encode(out, m);
  return close_frame(out, at, limit, err, errlen);
}

/* {===== The frame reader =====} */

void wire_reader_init(WireReader *r, size_t limit) {
  memset(r, 0, sizeof *r);
  r->limit = limit;
}

void wire_reader_free(WireReader *r) {
  buf_free(&r->in);
  r->at = 0;
}

void wire_reader_feed(WireReader *r, const char *bytes, size_t n) {
  if (r->failed) return;
  if (r->at) {   /* drop what was handed out */
    memmove(r->in.p, r->in.p + r->at, r->in.n - r->at);
    r->in.n -= r->at;
    r->at = 0;
  }
  buf_put(&r->in, bytes, n);
}

WireStatus wire_reader_next(WireReader *r, const char **payload, size_t *len) {
  if (r->failed) return WIRE_ERROR;
  size_t avail = r->in.n - r->at;
  if (avail < 4) return WIRE_MORE;
  uint32_t n = get_be32(r->in.p + r->at);
  if (n > r->limit) {
    r->failed = true;
    too_large(r->err, sizeof r->err, n, r->limit);
    return WIRE_ERROR;
  }
  if (avail - 4 < n) return WIRE_MORE;
  *payload = r->in.p + r->at + 4;
  *len = n;
  r->at += 4 + (size_t)n;
  return WIRE_FRAME;
}

bool wire_reader_eof(WireReader *r) {
  if (r->failed) return false;
  size_t avail = r->in.n - r->at;
  if (avail == 0) return true;
  r->failed = true;
  if (avail < 4)
    snprintf(r->err, sizeof r->err, "truncated frame: the stream ended after %zu of 4 length bytes", avail);
  else
    snprintf(r->err, sizeof r->err, "truncated frame: the stream ended after %zu of %lu payload bytes",
             avail - 4, (unsigned long)get_be32(r->in.p + r->at));
  return false;
}

const char *wire_reader_error(const WireReader *r) { return r->err; }
