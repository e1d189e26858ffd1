/* tests/unit/check_wire.c — the wire format (net/wire.c): the reference
 * node's example payloads byte for byte, both ways; round trips of every
 * message kind of net/messages.def and of every value kind; 64-bit ids at
 * their extremes; values we cannot take; malformed JSON, unknown types,
 * missing and mistyped fields, each with its exact error; nesting far past
 * the limit; frames cut at every byte boundary, over the limit, truncated. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json.h>
#include "net/wire.h"

/* {===== Helpers =====} */

static char err[WIRE_ERR_MAX];

static String *str(const char *s) { return v_cstring(s).as.str; }

/* The contents of [b] as a NUL-terminated GC string; frees [b]. */
static char *take(Buf *b) {
  char *s = GC_MALLOC_ATOMIC(b->n + 1);
  if (b->n) memcpy(s, b->p, b->n);
  s[b->n] = '\0';
  buf_free(b);
  return s;
}

static char *encoded(const WireMsg *m) {
  Buf b = { 0 };
  wire_encode(&b, m);
  return take(&b);
}

static char *value_json(Value v) {
  Buf b = { 0 };
  v_print_json(&b, v);
  return take(&b);
}

static WireMsg decoded(const char *json) {
  WireMsg m;
  bool ok = wire_decode(json, strlen(json), &m, err, sizeof err);
  ck_assert_msg(ok, "%.200s: %s", json, err);
  return m;
}

/* The error decoding [len] bytes of [json] gives. */
static const char *failure_n(const char *json, size_t len) {
  WireMsg m;
  ck_assert_msg(!wire_decode(json, len, &m, err, sizeof err), "accepted: %.200s", json);
  return err;
}

static const char *failure(const char *json) { return failure_n(json, strlen(json)); }

/* A call message around the tagged value [value]. */
static char *call_with(const char *value) {
  Buf b = { 0 };
  buf_printf(&b, "{\"type\":\"call\",\"request_id\":42,\"target\":1,\"input\":%s,\"sender\":2,"
             "\"sender_machine\":\"alpha\"}", value);
  return take(&b);
}

static WireMsg call_of(Value input) {
  return (WireMsg){ .kind = MSG_CALL, .request_id = 42, .target = 1, .input = input, .sender = 2,
                    .sender_machine = str("alpha") };
}

static bool same_string(const String *a, const String *b) {
  return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static Value list3(Value a, Value b, Value c) { return v_cons(a, v_cons(b, v_cons(c, v_nil()))); }

/* {===== The reference's examples (rust-reference.md §6.3) =====} */

static const char ex_call[] =
  "{\"type\":\"call\",\"request_id\":42,\"target\":1,\"input\":{\"Nat\":99},\"sender\":2,\"sender_machine\":\"alpha\"}";
static const char ex_response[] = "{\"type\":\"call_response\",\"request_id\":7,\"result\":{\"Ok\":{\"Bool\":true}}}";
static const char ex_create[] = "{\"type\":\"create_notify\",\"object_id\":10,\"machine_id\":\"beta\"}";
static const char ex_destroy[] = "{\"type\":\"destroy_notify\",\"object_id\":10}";

START_TEST(test_reference_examples_encode) {
  WireMsg call = call_of(v_int(99));
  ck_assert_str_eq(encoded(&call), ex_call);
  ck_assert_uint_eq(strlen(ex_call), 97);
  WireMsg response = { .kind = MSG_CALL_RESPONSE, .request_id = 7, .result = { .ok = true, .value = v_bool(true) } };
  ck_assert_str_eq(encoded(&response), ex_response);
  ck_assert_uint_eq(strlen(ex_response), 69);
  WireMsg create = { .kind = MSG_CREATE_NOTIFY, .object_id = 10, .machine_id = str("beta") };
  ck_assert_str_eq(encoded(&create), ex_create);
  ck_assert_uint_eq(strlen(ex_create), 59);
  WireMsg destroy = { .kind = MSG_DESTROY_NOTIFY, .object_id = 10 };
  ck_assert_str_eq(encoded(&destroy), ex_destroy);
  ck_assert_uint_eq(strlen(ex_destroy), 40);
}
END_TEST

START_TEST(test_reference_examples_frames) {
  Buf b = { 0 };
  WireMsg call = call_of(v_int(99));
  ck_assert(wire_frame_msg(&b, &call, WIRE_FRAME_LIMIT, err, sizeof err));
  WireMsg destroy = { .kind = MSG_DESTROY_NOTIFY, .object_id = 10 };
  ck_assert(wire_frame_msg(&b, &destroy, WIRE_FRAME_LIMIT, err, sizeof err));
  ck_assert_uint_eq(b.n, 4 + 97 + 4 + 40);
  ck_assert_mem_eq(b.p, "\x00\x00\x00\x61", 4);
  ck_assert_mem_eq(b.p + 4, ex_call, 97);
  ck_assert_mem_eq(b.p + 101, "\x00\x00\x00\x28", 4);
  ck_assert_mem_eq(b.p + 105, ex_destroy, 40);
  buf_free(&b);
}
END_TEST

START_TEST(test_reference_examples_decode) {
  WireMsg m = decoded(ex_call);
  ck_assert_int_eq(m.kind, MSG_CALL);
  ck_assert_uint_eq(m.request_id, 42);
  ck_assert_uint_eq(m.target, 1);
  ck_assert_uint_eq(m.input.tag, T_INT);
  ck_assert_int_eq(m.input.as.i, 99);
  ck_assert_uint_eq(m.sender, 2);
  ck_assert_str_eq(m.sender_machine->data, "alpha");
  ck_assert_uint_eq(m.sender_machine->len, 5);

  m = decoded(ex_response);
  ck_assert_int_eq(m.kind, MSG_CALL_RESPONSE);
  ck_assert_uint_eq(m.request_id, 7);
  ck_assert(m.result.ok);
  ck_assert_uint_eq(m.result.value.tag, T_BOOL);
  ck_assert(m.result.value.as.b);
  ck_assert_ptr_null(m.result.error);

  m = decoded(ex_create);
  ck_assert_int_eq(m.kind, MSG_CREATE_NOTIFY);
  ck_assert_uint_eq(m.object_id, 10);
  ck_assert_str_eq(m.machine_id->data, "beta");

  m = decoded(ex_destroy);
  ck_assert_int_eq(m.kind, MSG_DESTROY_NOTIFY);
  ck_assert_uint_eq(m.object_id, 10);
  ck_assert_uint_eq(m.have, 1u << WF_object_id);

  /* The reference's Err result (roundtrip_call_response_err). */
  m = decoded("{\"type\":\"call_response\",\"request_id\":9,\"result\":{\"Err\":\"object not found: obj:5\"}}");
  ck_assert(!m.result.ok);
  ck_assert_str_eq(m.result.error->data, "object not found: obj:5");
}
END_TEST

/* {===== Every message kind =====} */

/* What each kind encodes to, with every field of full_message(). */
static const char *const expected_json[MSG__COUNT] = {
  [MSG_CALL] = "{\"type\":\"call\",\"request_id\":11,\"target\":12,\"input\":{\"List\":[{\"Sym\":\"ping\"},"
               "{\"Nat\":3},{\"ObjectRef\":18446744073709551615}]},\"sender\":14,\"sender_machine\":\"m\xc3\xa9\\\"x\"}",
  [MSG_CALL_RESPONSE] = "{\"type\":\"call_response\",\"request_id\":11,\"result\":{\"Err\":\"no\\nway\"}}",
  [MSG_CREATE_NOTIFY] = "{\"type\":\"create_notify\",\"object_id\":16,\"machine_id\":\"beta\"}",
  [MSG_DESTROY_NOTIFY] = "{\"type\":\"destroy_notify\",\"object_id\":16}",
  [MSG_PING] = "{\"type\":\"ping\",\"nonce\":18}",
  [MSG_PONG] = "{\"type\":\"pong\",\"nonce\":18}",
  [MSG_MOVE] = "{\"type\":\"move\",\"request_id\":11,\"object_id\":16,\"behavior\":\"counter\",\"state\":{\"List\":["
               "{\"Nat\":1}]},\"creating_controller\":\"alice\",\"controller\":\"bob\",\"version\":20,\"calls\":21,"
               "\"sender_machine\":\"m\xc3\xa9\\\"x\"}",
  [MSG_TELEPORT] = "{\"type\":\"teleport\",\"request_id\":11,\"sender_machine\":\"m\xc3\xa9\\\"x\","
                   "\"continuation\":{\"frames\":[[1,2,3]],\"dest\":4}}",
  [MSG_FETCH] = "{\"type\":\"fetch\",\"request_id\":11,\"object_id\":16,\"sender_machine\":\"m\xc3\xa9\\\"x\"}",
  [MSG_OBJECT_OP] = "{\"type\":\"object_op\",\"request_id\":11,\"object_id\":16,\"op\":\"freeze\",\"controller\":"
                    "\"bob\",\"authority\":\"carol\",\"sender_machine\":\"m\xc3\xa9\\\"x\"}",
  [MSG_TELEPORT_DONE] = "{\"type\":\"teleport_done\",\"request_id\":11,\"outcome\":{\"error\":\"no\"}}",
};

static WireMsg full_message(WireKind kind) {
  WireMsg m = { .kind = kind, .request_id = 11, .target = 12, .sender = 14, .object_id = 16, .nonce = 18 };
  m.input = list3(v_sym(sym_intern_cstr("ping")), v_int(3), v_ref(T_OBJREF, UINT64_MAX));
  m.sender_machine = str("m\xc3\xa9\"x");
  m.result = (WireResult){ .ok = false, .error = str("no\nway") };
  m.machine_id = str("beta");
  m.behavior = str("counter");
  m.state = v_cons(v_int(1), v_nil());
  m.creating_controller = str("alice");
  m.controller = str("bob");
  m.version = 20;
  m.calls = 21;
  m.continuation = str("{\"frames\":[[1,2,3]],\"dest\":4}");
  m.outcome = str("{\"error\":\"no\"}");
  m.op = str("freeze");
  m.authority = str("carol");
  return m;
}

/* The fields of [kind], from messages.def. */
static uint32_t fields_of(WireKind kind) {
  uint32_t mask = 0;
#define WIRE_IN(KIND, field) if (kind == MSG_##KIND) mask |= 1u << WF_##field;
#include "net/messages.def"
  return mask;
}

#define SAME_U64(a, b) ck_assert_uint_eq(a, b)
#define SAME_VALUE(a, b) ck_assert(v_equal(a, b))
#define SAME_STR(a, b) ck_assert(same_string(a, b))
#define SAME_JSON(a, b) ck_assert(same_string(a, b))
#define SAME_RESULT(a, b)                                          \
  do {                                                             \
    ck_assert_int_eq((a).ok, (b).ok);                              \
    if ((a).ok) ck_assert(v_equal((a).value, (b).value));          \
    else ck_assert(same_string((a).error, (b).error));             \
  } while (0)

/* [b] (decoded) has exactly [a]'s fields for its kind, equal. */
static void check_same_fields(const WireMsg *a, const WireMsg *b) {
  ck_assert_int_eq(b->kind, a->kind);
  ck_assert_uint_eq(b->have, fields_of(a->kind));
#define WIRE_FIELD(field, kind) if (WIRE_HAS(b, field)) SAME_##kind(a->field, b->field);
#include "net/messages.def"
}

START_TEST(test_every_kind_round_trips) {
  for (int k = 0; k < MSG__COUNT; k++) {
    WireMsg m = full_message((WireKind)k);
    char *text = encoded(&m);
    ck_assert_ptr_nonnull(expected_json[k]);
    ck_assert_str_eq(text, expected_json[k]);
    WireMsg back = decoded(text);
    check_same_fields(&m, &back);
  }
  /* And an Ok result. */
  WireMsg ok = { .kind = MSG_CALL_RESPONSE, .request_id = 3, .result = { .ok = true, .value = v_nothing() } };
  ck_assert_str_eq(encoded(&ok), "{\"type\":\"call_response\",\"request_id\":3,\"result\":{\"Ok\":\"Nothing\"}}");
  WireMsg back = decoded(encoded(&ok));
  check_same_fields(&ok, &back);
}
END_TEST

START_TEST(test_names_and_scopes) {
  enum { IS_REFERENCE = 0, IS_OURS = 1 };
  int n = 0;
#define WIRE_MSG(KIND, type, scope)                                   \
  ck_assert_str_eq(wire_msg_names[MSG_##KIND], type);                 \
  ck_assert_int_eq(wire_msg_ours_only(MSG_##KIND), IS_##scope);       \
  n++;
#include "net/messages.def"
  ck_assert_int_eq(n, MSG__COUNT);
  for (int k = 0; k < MSG__COUNT; k++) {
    WireKind found;
    ck_assert(wire_msg_kind(wire_msg_names[k], strlen(wire_msg_names[k]), &found));
    ck_assert_int_eq(found, k);
  }
  WireKind found;
  ck_assert(!wire_msg_kind("cal", 3, &found));
  ck_assert(!wire_msg_kind("calls", 5, &found));
  ck_assert(!wire_msg_kind("call\0", 5, &found));
  ck_assert(!wire_msg_ours_only(MSG_CALL));
  ck_assert(wire_msg_ours_only(MSG_PING));
  ck_assert(wire_msg_ours_only(MSG_PONG));
  ck_assert(wire_msg_ours_only(MSG_MOVE));
  ck_assert(wire_msg_ours_only(MSG_TELEPORT));
  ck_assert(wire_msg_ours_only(MSG_TELEPORT_DONE));
  ck_assert(wire_msg_ours_only(MSG_FETCH));
  ck_assert(wire_msg_ours_only(MSG_OBJECT_OP));
  ck_assert(!wire_msg_ours_only(MSG__COUNT));
}
END_TEST

/* A NULL string is written as "". */
START_TEST(test_null_strings) {
  WireMsg m = { .kind = MSG_CREATE_NOTIFY, .object_id = 1 };
  ck_assert_str_eq(encoded(&m), "{\"type\":\"create_notify\",\"object_id\":1,\"machine_id\":\"\"}");
  WireMsg r = { .kind = MSG_CALL_RESPONSE, .request_id = 1 };
  ck_assert_str_eq(encoded(&r), "{\"type\":\"call_response\",\"request_id\":1,\"result\":{\"Err\":\"\"}}");
}
END_TEST

/* {===== Every value kind =====} */

/* [v] travels as [json] inside a call, and comes back equal. */
static void check_value(Value v, const char *json) {
  ck_assert_str_eq(value_json(v), json);
  WireMsg m = call_of(v);
  char *text = encoded(&m);
  ck_assert_str_eq(text, call_with(json));
  WireMsg back = decoded(text);
  ck_assert_msg(v_equal(back.input, v), "%s came back as %s", json, v_write_to_string(back.input, false));
  ck_assert_uint_eq(back.input.tag, v.tag);
}

START_TEST(test_every_value_round_trips) {
  check_value(v_int(0), "{\"Nat\":0}");
  check_value(v_int(99), "{\"Nat\":99}");
  check_value(v_int(INT64_MAX), "{\"Nat\":9223372036854775807}");
  check_value(v_int(-1), "{\"Int\":-1}");
  check_value(v_int(INT64_MIN), "{\"Int\":-9223372036854775808}");
  check_value(v_bool(true), "{\"Bool\":true}");
  check_value(v_bool(false), "{\"Bool\":false}");
  check_value(v_cstring(""), "{\"Str\":\"\"}");
  check_value(v_cstring("Ping"), "{\"Str\":\"Ping\"}");
  /* serde_json's escapes: \b \f by name, other controls \u00XX, DEL and
   * UTF-8 as they are. */
  check_value(v_cstring("a\"b\\c\n\t\r\b\f\x01\x1f\x7f \xc3\xa9 \xe2\x9c\x93"),
              "{\"Str\":\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f\x7f \xc3\xa9 \xe2\x9c\x93\"}");
  check_value(v_string("a\0b", 3), "{\"Str\":\"a\\u0000b\"}");
  check_value(v_sym(sym_intern_cstr("ping")), "{\"Sym\":\"ping\"}");
  check_value(v_sym(sym_intern_cstr("with space")), "{\"Sym\":\"with space\"}");
  check_value(v_nil(), "{\"List\":[]}");
  check_value(list3(v_int(1), v_cstring("a"), v_cons(v_int(2), v_nil())),
              "{\"List\":[{\"Nat\":1},{\"Str\":\"a\"},{\"List\":[{\"Nat\":2}]}]}");
  check_value(v_cons(v_int(1), v_int(2)), "{\"Pair\":[{\"Nat\":1},{\"Nat\":2}]}");
  check_value(v_cons(v_int(1), v_cons(v_int(2), v_int(3))),
              "{\"Pair\":[{\"Nat\":1},{\"Pair\":[{\"Nat\":2},{\"Nat\":3}]}]}");
  check_value(v_nothing(), "\"Nothing\"");
  check_value(v_just(v_just(v_int(1))), "{\"Just\":{\"Just\":{\"Nat\":1}}}");
  check_value(v_ref(T_OBJREF, 0), "{\"ObjectRef\":0}");
  check_value(v_ref(T_OBJREF, UINT64_MAX), "{\"ObjectRef\":18446744073709551615}");
  check_value(v_ref(T_TXREF, (uint64_t)9001 << 48), "{\"TxRef\":2533556265372614656}");
  check_value(v_unspec(), "\"Unit\"");
}
END_TEST

/* The reference's tags, read from text as a reference node writes them. */
START_TEST(test_reference_values_decode) {
  Value v = decoded(call_with("{\"List\":[{\"Str\":\"Ping\"},{\"Nat\":0},{\"Nat\":3},"
                              "{\"ObjectRef\":2533837740349325312}]}")).input;
  ck_assert_str_eq(v_write_to_string(v, false), "(\"Ping\" 0 3 #<object 2533837740349325312>)");
  v = decoded(call_with("{\"Pair\":[{\"Bool\":false},{\"Just\":{\"TxRef\":0}}]}")).input;
  ck_assert_str_eq(v_write_to_string(v, false), "(#f . (just #<tx 0>))");
  v = decoded(call_with("\"Nothing\"")).input;
  ck_assert_uint_eq(v.tag, T_NOTHING);
  /* serde also reads a unit variant as {"Tag": null}. */
  v = decoded(call_with("{\"Nothing\":null}")).input;
  ck_assert_uint_eq(v.tag, T_NOTHING);
  v = decoded(call_with("{\"Unit\":null}")).input;
  ck_assert_uint_eq(v.tag, T_UNSPEC);
  /* Our pairs are conses: a Pair whose second half is a list is a longer
   * list, and goes back as one. */
  v = decoded(call_with("{\"Pair\":[{\"Nat\":1},{\"List\":[{\"Nat\":2}]}]}")).input;
  ck_assert_str_eq(value_json(v), "{\"List\":[{\"Nat\":1},{\"Nat\":2}]}");
  v = decoded(call_with("{\"Pair\":[{\"Nat\":1},{\"List\":[]}]}")).input;
  ck_assert_str_eq(value_json(v), "{\"List\":[{\"Nat\":1}]}");
  /* Int also reads a non-negative integer. */
  v = decoded(call_with("{\"Int\":5}")).input;
  ck_assert_int_eq(v.as.i, 5);
  /* A lone surrogate escape becomes U+FFFD (json-c). */
  v = decoded(call_with("{\"Str\":\"\\ud800\"}")).input;
  ck_assert_str_eq(v.as.str->data, "\xef\xbf\xbd");
  v = decoded(call_with("{\"Str\":\"\\ud83d\\ude00\"}")).input;
  ck_assert_str_eq(v.as.str->data, "\xf0\x9f\x98\x80");
}
END_TEST

/* Values a machine of ours cannot hold, or that cannot leave one. */
START_TEST(test_values_we_refuse) {
  ck_assert_str_eq(failure(call_with("{\"Nat\":9223372036854775808}")),
                   "call: field \"input\": Nat 9223372036854775808 is above the largest integer, 9223372036854775807");
  ck_assert_str_eq(failure(call_with("{\"Nat\":18446744073709551615}")),
                   "call: field \"input\": Nat 18446744073709551615 is above the largest integer, 9223372036854775807");
  ck_assert_str_eq(failure(call_with("{\"Int\":9223372036854775808}")),
                   "call: field \"input\": Int 9223372036854775808 is above the largest integer, 9223372036854775807");
  ck_assert_str_eq(failure(call_with("{\"Procedure\":\"car\"}")),
                   "call: field \"input\": Procedure values cannot be sent between machines");
  ck_assert_str_eq(failure(call_with("{\"Procedure\":null}")),
                   "call: field \"input\": Procedure values cannot be sent between machines");
  ck_assert_str_eq(failure(call_with("{\"Program\":1}")),
                   "call: field \"input\": Program values cannot be sent between machines");
  ck_assert_str_eq(failure(call_with("\"Opaque\"")),
                   "call: field \"input\": Opaque values cannot be sent between machines");
  /* A continuation's procedures and unset slots, outside one. */
  ck_assert_str_eq(failure(call_with("{\"Closure\":{\"module\":\"0123456789abcdef\",\"proto\":1,\"up\":[]}}")),
                   "call: field \"input\": Procedure values cannot be sent between machines");
  ck_assert_str_eq(failure(call_with("{\"Prim\":\"car\"}")),
                   "call: field \"input\": Procedure values cannot be sent between machines");
  ck_assert_str_eq(failure(call_with("\"Undefined\"")), "call: field \"input\": unknown value tag \"Undefined\"");
  /* Deep inside a value too. */
  ck_assert_str_eq(failure(call_with("{\"List\":[{\"Nat\":1},{\"Just\":{\"Program\":3}}]}")),
                   "call: field \"input\": Program values cannot be sent between machines");
  /* What we write for them: a program handle is the only one v_print_json
   * can be given without a VM. */
  WireMsg m = call_of(v_ref(T_HANDLE, 3));
  ck_assert_str_eq(failure(encoded(&m)), "call: field \"input\": Program values cannot be sent between machines");
}
END_TEST

/* With a resolver (a continuation), procedures and unset slots are read:
 * the resolver gets each closure's module, proto and upvalues (read
 * first), and its refusal becomes the error. */
static bool stub_closure(void *ctx, const char *module, uint64_t proto, const Value *up, size_t nup, Value *out,
                         char *err, size_t errlen) {
  (void)ctx;
  if (strcmp(module, "0123456789abcdef") != 0) return snprintf(err, errlen, "unknown module %s", module), false;
  Value l = v_nil();
  for (size_t i = nup; i-- > 0;) l = v_cons(up[i], l);
  *out = v_cons(v_int((int64_t)proto), l);  /* (proto up...) stands for the closure */
  return true;
}

static bool stub_prim(void *ctx, const char *name, Value *out, char *err, size_t errlen) {
  (void)ctx;
  if (strcmp(name, "car") != 0) return snprintf(err, errlen, "no primitive %s", name), false;
  *out = v_prim(0);
  return true;
}

START_TEST(test_continuation_values) {
  WireProcs procs = { NULL, stub_closure, stub_prim };
  const char *text = "{\"List\":[{\"Closure\":{\"module\":\"0123456789abcdef\",\"proto\":7,\"up\":[{\"Nat\":1},"
                     "{\"Prim\":\"car\"}]}},\"Undefined\"]}";
  struct json_object *j;
  char err[WIRE_ERR_MAX];
  ck_assert(wire_json_parse(text, strlen(text), &j, err, sizeof err));
  Value v;
  ck_assert_msg(wire_json_value(j, &procs, &v, err, sizeof err), "%s", err);
  json_object_put(j);
  ck_assert_str_eq(v_write_to_string(v, false), "((7 1 #<procedure +>) #<undefined>)");
  text = "{\"Closure\":{\"module\":\"ffffffffffffffff\",\"proto\":7,\"up\":[]}}";
  ck_assert(wire_json_parse(text, strlen(text), &j, err, sizeof err));
  ck_assert(!wire_json_value(j, &procs, &v, err, sizeof err));
  ck_assert_str_eq(err, "Closure: unknown module ffffffffffffffff");
  json_object_put(j);
  text = "{\"Closure\":{\"module\":\"0123456789abcdef\",\"up\":[]}}";
  ck_assert(wire_json_parse(text, strlen(text), &j, err, sizeof err));
  ck_assert(!wire_json_value(j, &procs, &v, err, sizeof err));
  ck_assert_str_eq(err, "Closure: expected {\"module\": string, \"proto\": number, \"up\": [values]}");
  json_object_put(j);
  text = "{\"Prim\":\"cdr\"}";
  ck_assert(wire_json_parse(text, strlen(text), &j, err, sizeof err));
  ck_assert(!wire_json_value(j, &procs, &v, err, sizeof err));
  ck_assert_str_eq(err, "Prim: no primitive cdr");
  json_object_put(j);
  ck_assert(!wire_json_parse("{\"a\":", 5, &j, err, sizeof err));
  ck_assert_str_eq(err, "malformed JSON at byte 5: unexpected end of data");
}
END_TEST

START_TEST(test_value_errors) {
  static const char *const cases[][2] = {
    { "{\"Foo\":1}", "unknown value tag \"Foo\"" },
    { "\"Something\"", "unknown value tag \"Something\"" },
    { "{}", "expected a value (an object with one key, or \"Nothing\" or \"Unit\"), got an object with 0 keys" },
    { "{\"Nat\":1,\"Bool\":true}",
      "expected a value (an object with one key, or \"Nothing\" or \"Unit\"), got an object with 2 keys" },
    { "5", "expected a value (an object with one key, or \"Nothing\" or \"Unit\"), got a number" },
    { "null", "expected a value (an object with one key, or \"Nothing\" or \"Unit\"), got null" },
    { "{\"Nat\":-1}", "Nat: expected an unsigned 64-bit integer, got a negative number" },
    { "{\"Nat\":1.0}", "Nat: expected an unsigned 64-bit integer, got a number with a fraction or exponent" },
    { "{\"Nat\":\"1\"}", "Nat: expected an unsigned 64-bit integer, got a string" },
    { "{\"Int\":\"x\"}", "Int: expected an integer, got a string" },
    { "{\"Bool\":1}", "Bool: expected true or false, got a number" },
    { "{\"Str\":1}", "Str: expected a string, got a number" },
    { "{\"Sym\":null}", "Sym: expected a string, got null" },
    { "{\"List\":5}", "List: expected an array, got a number" },
    { "{\"List\":[{\"Nat\":1},5]}",
      "expected a value (an object with one key, or \"Nothing\" or \"Unit\"), got a number" },
    { "{\"Pair\":[{\"Nat\":1}]}", "Pair: expected an array of two values, got an array of 1" },
    { "{\"Pair\":{\"Nat\":1}}", "Pair: expected an array of two values, got an object" },
    { "{\"Just\":\"Foo\"}", "unknown value tag \"Foo\"" },
    { "{\"Nothing\":5}", "Nothing: expected null, got a number" },
    { "{\"ObjectRef\":-5}", "ObjectRef: expected an unsigned 64-bit integer, got a negative number" },
    { "{\"TxRef\":true}", "TxRef: expected an unsigned 64-bit integer, got a boolean" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    Buf want = { 0 };
    buf_printf(&want, "call: field \"input\": %s", cases[i][1]);
    ck_assert_str_eq(failure(call_with(cases[i][0])), take(&want));
  }
}
END_TEST

/* {===== 64-bit ids =====} */

START_TEST(test_u64_extremes) {
  static const uint64_t ids[] = { 0, ((uint64_t)1 << 53) + 1, (uint64_t)9001 << 48, (uint64_t)65535 << 48,
                                  UINT64_MAX };
  static const char *const texts[] = { "0", "9007199254740993", "2533556265372614656", "18446462598732840960",
                                       "18446744073709551615" };
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    uint64_t id = ids[i];
    WireMsg m = { .kind = MSG_CALL, .request_id = id, .target = id, .input = v_ref(T_OBJREF, id), .sender = id,
                  .sender_machine = str("a") };
    Buf want = { 0 };
    buf_printf(&want, "{\"type\":\"call\",\"request_id\":%s,\"target\":%s,\"input\":{\"ObjectRef\":%s},"
               "\"sender\":%s,\"sender_machine\":\"a\"}", texts[i], texts[i], texts[i], texts[i]);
    char *text = encoded(&m);
    ck_assert_str_eq(text, take(&want));
    WireMsg back = decoded(text);
    check_same_fields(&m, &back);
    ck_assert_uint_eq(back.input.as.u, id);
    for (int k = 0; k < MSG__COUNT; k++) {   /* every id field of every message */
      WireMsg full = full_message((WireKind)k);
      full.request_id = full.target = full.sender = full.object_id = full.nonce = full.version = full.calls = id;
      WireMsg again = decoded(encoded(&full));
      check_same_fields(&full, &again);
    }
  }
}
END_TEST

START_TEST(test_numbers_out_of_range) {
  ck_assert_str_eq(failure("{\"type\":\"destroy_notify\",\"object_id\":18446744073709551616}"),
                   "number out of the 64-bit range at byte 37: 18446744073709551616");
  ck_assert_str_eq(failure("{\"type\":\"destroy_notify\",\"object_id\":99999999999999999999999}"),
                   "number out of the 64-bit range at byte 37: 99999999999999999999999");
  ck_assert_str_eq(failure(call_with("{\"Int\":-9223372036854775809}")),
                   "number out of the 64-bit range at byte 57: -9223372036854775809");
  /* Anywhere, even in a field nobody reads, and not in strings. */
  ck_assert_str_eq(failure("{\"type\":\"destroy_notify\",\"object_id\":1,\"x\":[1e400,-18446744073709551616]}"),
                   "number out of the 64-bit range at byte 50: -18446744073709551616");
  WireMsg m = decoded("{\"type\":\"destroy_notify\",\"object_id\":1,\"x\":\"18446744073709551616\\\"-99999999999999999999\","
                      "\"18446744073709551616\":1.5e999}");
  ck_assert_uint_eq(m.object_id, 1);
  m = decoded(call_with("{\"Int\":-9223372036854775808}"));
  ck_assert_int_eq(m.input.as.i, INT64_MIN);
}
END_TEST

/* {===== Malformed messages =====} */

START_TEST(test_malformed_json) {
  ck_assert_str_eq(failure(""), "malformed JSON at byte 0: unexpected end of data");
  ck_assert_str_eq(failure("   "), "malformed JSON at byte 3: unexpected end of data");
  ck_assert_str_eq(failure("{"), "malformed JSON at byte 1: unexpected end of data");
  ck_assert_str_eq(failure("{\"type\":\"call\",\"request_id\":4"), "malformed JSON at byte 29: unexpected end of data");
  ck_assert_str_eq(failure("{\"type\":\"call\",}"), "malformed JSON at byte 15: unexpected character");
  ck_assert_str_eq(failure("{'type':'call'}"), "malformed JSON at byte 8: unexpected character");
  /* json-c takes single-quoted keys even when strict; we do not. */
  ck_assert_str_eq(failure("{'type':\"destroy_notify\",\"object_id\":1}"), "malformed JSON at byte 1: single-quoted string");
  ck_assert_str_eq(failure("{\"type\":\"destroy_notify\",\"object_id\":1,'x\"':1}"),
                   "malformed JSON at byte 39: single-quoted string");
  /* Quotes and backslashes escaped inside strings do not end them. */
  ck_assert_str_eq(failure("{\"type\":\"destroy_notify\",\"object_id\":1,\"x\":\"'\\\"'\\\\\",'y':1}"),
                   "malformed JSON at byte 52: single-quoted string");
  ck_assert_str_eq(failure("{\"type\":\"destroy_notify\",\"x\":\"\\\\\\\\\",\"object_id\":NaN}"),
                   "malformed JSON at byte 48: NaN is not JSON");
  ck_assert_str_eq(failure("{type:1}"), "malformed JSON at byte 1: quoted object property name expected");
  ck_assert_str_eq(failure("{\"type\":\"call\"\"x\":1}"), "malformed JSON at byte 14: object value separator ',' expected");
  ck_assert_str_eq(failure("{\"type\":\"\xff\"}"), "malformed JSON at byte 9: invalid utf-8 string");
  /* json-c takes these even when strict; we do not. */
  ck_assert_str_eq(failure("{\"type\":\"destroy_notify\",\"object_id\":NaN}"), "malformed JSON at byte 37: NaN is not JSON");
  ck_assert_str_eq(failure("{\"type\":\"destroy_notify\",\"object_id\":1,\"x\":[-Infinity]}"),
                   "malformed JSON at byte 45: Infinity is not JSON");
  ck_assert_str_eq(failure("{\"type\":\"destroy_notify\",\"object_id\":nan}"), "malformed JSON at byte 38: null expected");
  ck_assert_str_eq(failure("{\"type\":\"destroy_notify\",\"object_id\":01}"), "malformed JSON at byte 39: number expected");
  /* After the message: whitespace is fine, anything else is not. */
  WireMsg m = decoded("{\"type\":\"destroy_notify\",\"object_id\":10} \n\t");
  ck_assert_uint_eq(m.object_id, 10);
  ck_assert_str_eq(failure("{\"type\":\"destroy_notify\",\"object_id\":10} x"), "malformed JSON at byte 41: unexpected character");
  ck_assert_str_eq(failure("{\"type\":\"destroy_notify\",\"object_id\":10}{}"), "malformed JSON at byte 40: unexpected character");
  ck_assert_str_eq(failure_n("{\"type\":\"destroy_notify\",\"object_id\":10}\0", 41),
                   "malformed JSON at byte 40: more after the message");
  ck_assert_str_eq(failure_n("{\"type\":\"destroy_notify\",\"object_id\":10}\0{}", 43),
                   "malformed JSON at byte 40: more after the message");
  /* JSON, but not a message. */
  ck_assert_str_eq(failure("5"), "expected a message (a JSON object), got a number");
  ck_assert_str_eq(failure("[]"), "expected a message (a JSON object), got an array");
  ck_assert_str_eq(failure("null"), "expected a message (a JSON object), got null");
  ck_assert_str_eq(failure("\"call\""), "expected a message (a JSON object), got a string");
}
END_TEST

START_TEST(test_message_types) {
  ck_assert_str_eq(failure("{}"), "missing field \"type\"");
  ck_assert_str_eq(failure("{\"kind\":\"call\"}"), "missing field \"type\"");
  ck_assert_str_eq(failure("{\"type\":5}"), "field \"type\": expected a string, got a number");
  ck_assert_str_eq(failure("{\"type\":null}"), "field \"type\": expected a string, got null");
  ck_assert_str_eq(failure("{\"type\":\"Call\"}"), "unknown message type \"Call\"");
  ck_assert_str_eq(failure("{\"type\":\"\"}"), "unknown message type \"\"");
  ck_assert_str_eq(failure("{\"type\":\"heartbeat\",\"nonce\":1}"), "unknown message type \"heartbeat\"");
  ck_assert_str_eq(failure("{\"type\":\"a\\nb\\u0000\"}"), "unknown message type \"a\\nb\\u0000\"");
  /* Long names are cut at 40 bytes, at a character boundary. */
  ck_assert_str_eq(failure("{\"type\":\"0123456789012345678901234567890123456789-and-more\"}"),
                   "unknown message type \"0123456789012345678901234567890123456789\"...");
  ck_assert_str_eq(failure("{\"type\":\"012345678901234567890123456789012345678\xc3\xa9-and-more\"}"),
                   "unknown message type \"012345678901234567890123456789012345678\"...");
  /* Ours: decoded from anyone. */
  WireMsg m = decoded("{\"type\":\"pong\",\"nonce\":18446744073709551615}");
  ck_assert_int_eq(m.kind, MSG_PONG);
  ck_assert_uint_eq(m.nonce, UINT64_MAX);
}
END_TEST

START_TEST(test_wrong_fields) {
  static const char *const cases[][2] = {
    { "{\"type\":\"call\",\"request_id\":\"1\"}",
      "call: field \"request_id\": expected an unsigned 64-bit integer, got a string" },
    { "{\"type\":\"call\",\"request_id\":-1}",
      "call: field \"request_id\": expected an unsigned 64-bit integer, got a negative number" },
    { "{\"type\":\"call\",\"request_id\":1.5}",
      "call: field \"request_id\": expected an unsigned 64-bit integer, got a number with a fraction or exponent" },
    { "{\"type\":\"call\",\"request_id\":1e3}",
      "call: field \"request_id\": expected an unsigned 64-bit integer, got a number with a fraction or exponent" },
    { "{\"type\":\"call\",\"request_id\":1,\"target\":null}",
      "call: field \"target\": expected an unsigned 64-bit integer, got null" },
    { "{\"type\":\"call\",\"request_id\":1,\"target\":[2]}",
      "call: field \"target\": expected an unsigned 64-bit integer, got an array" },
    { "{\"type\":\"call\",\"request_id\":1,\"target\":2}", "call: missing field \"input\"" },
    { "{\"type\":\"call\",\"request_id\":1,\"target\":2,\"input\":\"Nothing\",\"sender\":3}",
      "call: missing field \"sender_machine\"" },
    { "{\"type\":\"call\",\"request_id\":1,\"target\":2,\"input\":\"Nothing\",\"sender\":3,\"sender_machine\":5}",
      "call: field \"sender_machine\": expected a string, got a number" },
    { "{\"type\":\"call\",\"request_id\":1,\"target\":2,\"input\":\"Nothing\",\"sender\":true,\"sender_machine\":\"a\"}",
      "call: field \"sender\": expected an unsigned 64-bit integer, got a boolean" },
    { "{\"type\":\"call_response\",\"request_id\":1}", "call_response: missing field \"result\"" },
    { "{\"type\":\"call_response\",\"request_id\":1,\"result\":{}}",
      "call_response: field \"result\": expected {\"Ok\": value} or {\"Err\": string}, got an object with 0 keys" },
    { "{\"type\":\"call_response\",\"request_id\":1,\"result\":{\"Ok\":\"Nothing\",\"Err\":\"x\"}}",
      "call_response: field \"result\": expected {\"Ok\": value} or {\"Err\": string}, got an object with 2 keys" },
    { "{\"type\":\"call_response\",\"request_id\":1,\"result\":\"Ok\"}",
      "call_response: field \"result\": expected {\"Ok\": value} or {\"Err\": string}, got a string" },
    { "{\"type\":\"call_response\",\"request_id\":1,\"result\":{\"Okay\":1}}",
      "call_response: field \"result\": expected \"Ok\" or \"Err\", got \"Okay\"" },
    { "{\"type\":\"call_response\",\"request_id\":1,\"result\":{\"Err\":5}}",
      "call_response: field \"result\": Err: expected a string, got a number" },
    { "{\"type\":\"call_response\",\"request_id\":1,\"result\":{\"Ok\":{\"Nat\":true}}}",
      "call_response: field \"result\": Nat: expected an unsigned 64-bit integer, got a boolean" },
    { "{\"type\":\"create_notify\",\"object_id\":1}", "create_notify: missing field \"machine_id\"" },
    { "{\"type\":\"create_notify\",\"object_id\":1,\"machine_id\":{}}",
      "create_notify: field \"machine_id\": expected a string, got an object" },
    { "{\"type\":\"destroy_notify\"}", "destroy_notify: missing field \"object_id\"" },
    { "{\"type\":\"ping\"}", "ping: missing field \"nonce\"" },
    { "{\"type\":\"pong\",\"nonce\":\"x\"}", "pong: field \"nonce\": expected an unsigned 64-bit integer, got a string" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) ck_assert_str_eq(failure(cases[i][0]), cases[i][1]);
}
END_TEST

/* A node answers a call whose input it cannot take: what was read before
 * the failure is there. */
START_TEST(test_partial_message_on_failure) {
  WireMsg m;
  const char *text = call_with("{\"Nat\":9223372036854775808}");
  ck_assert(!wire_decode(text, strlen(text), &m, err, sizeof err));
  ck_assert_int_eq(m.kind, MSG_CALL);
  ck_assert(WIRE_HAS(&m, request_id));
  ck_assert(WIRE_HAS(&m, target));
  ck_assert(!WIRE_HAS(&m, input));
  ck_assert(!WIRE_HAS(&m, sender));
  ck_assert_uint_eq(m.request_id, 42);
  /* Fields are read in wire order whatever order they come in. */
  text = "{\"input\":5,\"request_id\":8,\"type\":\"call\"}";
  ck_assert(!wire_decode(text, strlen(text), &m, err, sizeof err));
  ck_assert_uint_eq(m.have, 1u << WF_request_id);
  ck_assert_uint_eq(m.request_id, 8);
  /* Nothing known yet. */
  ck_assert(!wire_decode("{\"type\":\"nope\"}", 15, &m, err, sizeof err));
  ck_assert_int_eq(m.kind, MSG__COUNT);
  ck_assert_uint_eq(m.have, 0);
  /* A short error buffer gets a cut message; none gets nothing. */
  char small[12];
  ck_assert(!wire_decode("{\"type\":\"nope\"}", 15, &m, small, sizeof small));
  ck_assert_str_eq(small, "unknown mes");
  ck_assert(!wire_decode("{\"type\":\"call\"}", 15, &m, small, sizeof small));
  ck_assert_str_eq(small, "call: missi");
  ck_assert(!wire_decode(ex_call, 50, &m, NULL, 0));
}
END_TEST

/* Serde ignores fields it does not know, and so do we; "type" may come
 * anywhere; of two fields of one name the last counts. */
START_TEST(test_extra_fields_ignored) {
  WireMsg m = decoded("{\"sender_machine\":\"alpha\",\"extra\":[1,{\"x\":null},\"Procedure\"],\"input\":{\"Nat\":99},"
                      "\"sender\":2,\"target\":1,\"request_id\":42,\"type\":\"call\",\"nonce\":\"not a number\"}");
  WireMsg want = call_of(v_int(99));
  check_same_fields(&want, &m);
  ck_assert_str_eq(encoded(&m), ex_call);
  m = decoded("{\"type\":\"destroy_notify\",\"object_id\":1,\"object_id\":2}");
  ck_assert_uint_eq(m.object_id, 2);
}
END_TEST

/* {===== Nesting =====} */

/* [n] lists, each the only element of the one around it, the innermost
 * empty. */
static Value nested_lists(int n) {
  Value v = v_nil();
  for (int i = 1; i < n; i++) v = v_cons(v, v_nil());
  return v;
}

static Value nested_justs(int n) {
  Value v = v_nothing();
  for (int i = 0; i < n; i++) v = v_just(v);
  return v;
}

/* A value may be inside WIRE_MAX_DEPTH objects and arrays; a message is
 * one, each List two (object, array), each Just one. */
START_TEST(test_nesting_limit) {
  static const char prefix[] = "{\"type\":\"call\",\"request_id\":42,\"target\":1,\"input\":";
  int lists = WIRE_MAX_DEPTH / 2;
  WireMsg m = call_of(nested_lists(lists));
  WireMsg back = decoded(encoded(&m));
  ck_assert(v_equal(back.input, m.input));
  m = call_of(nested_lists(lists + 1));
  Buf want = { 0 };   /* the innermost List is one level too deep */
  buf_printf(&want, "malformed JSON at byte %zu: nested deeper than %d",
             strlen(prefix) + (size_t)lists * strlen("{\"List\":["), WIRE_MAX_DEPTH);
  ck_assert_str_eq(failure(encoded(&m)), take(&want));

  m = call_of(nested_justs(WIRE_MAX_DEPTH - 1));
  back = decoded(encoded(&m));
  ck_assert(v_equal(back.input, m.input));
  m = call_of(nested_justs(WIRE_MAX_DEPTH));
  buf_printf(&want, "malformed JSON at byte %zu: nested deeper than %d",
             strlen(prefix) + (size_t)WIRE_MAX_DEPTH * strlen("{\"Just\":"), WIRE_MAX_DEPTH);
  ck_assert_str_eq(failure(encoded(&m)), take(&want));
}
END_TEST

/* Far past the limit: refused at the limit, without deep recursion. */
START_TEST(test_deep_nesting_refused) {
  WireMsg m = call_of(nested_lists(100000));
  char *text = encoded(&m);
  ck_assert_uint_gt(strlen(text), 100000 * 9);
  ck_assert_str_eq(failure(text), "malformed JSON at byte 4658: nested deeper than 1024");
  char *brackets = GC_MALLOC_ATOMIC(100001);
  memset(brackets, '[', 100000);
  brackets[100000] = '\0';
  ck_assert_str_eq(failure(brackets), "malformed JSON at byte 1025: nested deeper than 1024");
  memset(brackets, '{', 100000);
  ck_assert_str_eq(failure(brackets), "malformed JSON at byte 1: quoted object property name expected");
  for (int i = 0; i < 100000; i += 5) memcpy(brackets + i, "{\"a\":", 5);
  ck_assert_str_eq(failure(brackets), "malformed JSON at byte 5125: nested deeper than 1024");
}
END_TEST

/* {===== Memory =====} */

/* Decoded values are GC objects that live as long as they are reachable. */
START_TEST(test_decoded_values_survive_collection) {
  Buf text = { 0 };
  buf_lit(&text, "{\"type\":\"call_response\",\"request_id\":1,\"result\":{\"Ok\":{\"List\":[");
  for (int i = 0; i < 10000; i++) buf_printf(&text, "%s{\"Str\":\"s%d\"}", i ? "," : "", i);
  buf_lit(&text, "]}}}");
  WireMsg m;
  ck_assert(wire_decode(text.p, text.n, &m, err, sizeof err));
  buf_free(&text);
  GC_gcollect();
  GC_MALLOC(1 << 20);
  GC_gcollect();
  ck_assert_int_eq(v_list_length(m.result.value), 10000);
  Value v = m.result.value;
  for (int i = 0; i < 10000; i++, v = v.as.pair->cdr) {
    char want[16];
    snprintf(want, sizeof want, "s%d", i);
    ck_assert_str_eq(v.as.pair->car.as.str->data, want);
  }
}
END_TEST

/* {===== Frames =====} */

/* A stream of frames: the reference's examples, a ping, an empty payload. */
static const char *const stream_payloads[] = { ex_call, ex_response, ex_create, "", ex_destroy,
                                               "{\"type\":\"ping\",\"nonce\":1}" };
#define N_STREAM (sizeof stream_payloads / sizeof stream_payloads[0])

static Buf stream(void) {
  Buf b = { 0 };
  for (size_t i = 0; i < N_STREAM; i++)
    ck_assert(wire_frame(&b, stream_payloads[i], strlen(stream_payloads[i]), WIRE_FRAME_LIMIT, err, sizeof err));
  return b;
}

/* Takes every complete frame out of [r], checking it is the next one. */
static void drain(WireReader *r, size_t *next) {
  const char *p;
  size_t len;
  WireStatus st;
  while ((st = wire_reader_next(r, &p, &len)) == WIRE_FRAME) {
    ck_assert_uint_lt(*next, N_STREAM);
    ck_assert_uint_eq(len, strlen(stream_payloads[*next]));
    ck_assert_mem_eq(p, stream_payloads[*next], len);
    (*next)++;
  }
  ck_assert_int_eq(st, WIRE_MORE);
}

START_TEST(test_frames_split_everywhere) {
  Buf s = stream();
  for (size_t cut = 0; cut <= s.n; cut++) {
    WireReader r;
    wire_reader_init(&r, WIRE_FRAME_LIMIT);
    size_t next = 0;
    wire_reader_feed(&r, s.p, cut);
    drain(&r, &next);
    wire_reader_feed(&r, s.p + cut, s.n - cut);
    drain(&r, &next);
    ck_assert_uint_eq(next, N_STREAM);
    ck_assert(wire_reader_eof(&r));
    wire_reader_free(&r);
  }
  /* A byte at a time. */
  WireReader r;
  wire_reader_init(&r, WIRE_FRAME_LIMIT);
  size_t next = 0;
  for (size_t i = 0; i < s.n; i++) {
    wire_reader_feed(&r, s.p + i, 1);
    drain(&r, &next);
  }
  ck_assert_uint_eq(next, N_STREAM);
  ck_assert(wire_reader_eof(&r));
  ck_assert_str_eq(wire_reader_error(&r), "");
  wire_reader_free(&r);
  buf_free(&s);
}
END_TEST

/* Each payload decodes to its message. */
START_TEST(test_frames_carry_messages) {
  Buf s = stream();
  WireReader r;
  wire_reader_init(&r, WIRE_FRAME_LIMIT);
  wire_reader_feed(&r, s.p, s.n);
  buf_free(&s);
  const char *p;
  size_t len;
  static const int kinds[N_STREAM] = { MSG_CALL, MSG_CALL_RESPONSE, MSG_CREATE_NOTIFY, -1, MSG_DESTROY_NOTIFY,
                                       MSG_PING };
  for (size_t i = 0; i < N_STREAM; i++) {
    ck_assert_int_eq(wire_reader_next(&r, &p, &len), WIRE_FRAME);
    WireMsg m;
    bool ok = wire_decode(p, len, &m, err, sizeof err);
    ck_assert_int_eq(ok, kinds[i] >= 0);
    if (ok) ck_assert_int_eq(m.kind, kinds[i]);
    else ck_assert_str_eq(err, "malformed JSON at byte 0: unexpected end of data");
  }
  ck_assert_int_eq(wire_reader_next(&r, &p, &len), WIRE_MORE);
  wire_reader_free(&r);
}
END_TEST

START_TEST(test_frame_too_large) {
  WireReader r;
  wire_reader_init(&r, WIRE_FRAME_LIMIT);
  const char *p;
  size_t len;
  /* Exactly the limit: waits for the payload. */
  wire_reader_feed(&r, "\x01\x00\x00\x00", 4);
  ck_assert_int_eq(wire_reader_next(&r, &p, &len), WIRE_MORE);
  wire_reader_free(&r);
  /* One more: refused as soon as the length is known. */
  wire_reader_init(&r, WIRE_FRAME_LIMIT);
  wire_reader_feed(&r, "\x01\x00", 2);
  ck_assert_int_eq(wire_reader_next(&r, &p, &len), WIRE_MORE);
  wire_reader_feed(&r, "\x00\x01", 2);
  ck_assert_int_eq(wire_reader_next(&r, &p, &len), WIRE_ERROR);
  ck_assert_str_eq(wire_reader_error(&r), "frame too large: 16777217 bytes (limit 16777216)");
  /* And stays broken. */
  wire_reader_feed(&r, "\x00\x00\x00\x00", 4);
  ck_assert_int_eq(wire_reader_next(&r, &p, &len), WIRE_ERROR);
  ck_assert(!wire_reader_eof(&r));
  ck_assert_str_eq(wire_reader_error(&r), "frame too large: 16777217 bytes (limit 16777216)");
  wire_reader_free(&r);
  /* A good frame first, then the bad one. */
  wire_reader_init(&r, 40);
  Buf s = { 0 };
  ck_assert(wire_frame(&s, ex_destroy, 40, 40, err, sizeof err));
  buf_lit(&s, "\xff\xff\xff\xff");
  wire_reader_feed(&r, s.p, s.n);
  buf_free(&s);
  ck_assert_int_eq(wire_reader_next(&r, &p, &len), WIRE_FRAME);
  ck_assert_mem_eq(p, ex_destroy, 40);
  ck_assert_int_eq(wire_reader_next(&r, &p, &len), WIRE_ERROR);
  ck_assert_str_eq(wire_reader_error(&r), "frame too large: 4294967295 bytes (limit 40)");
  wire_reader_free(&r);
}
END_TEST

START_TEST(test_frame_writer_limit) {
  Buf b = { 0 };
  buf_lit(&b, "kept");
  WireMsg call = call_of(v_int(99));
  ck_assert(!wire_frame_msg(&b, &call, 96, err, sizeof err));
  ck_assert_str_eq(err, "frame too large: 97 bytes (limit 96)");
  ck_assert_uint_eq(b.n, 4);
  ck_assert_mem_eq(b.p, "kept", 4);
  ck_assert(!wire_frame(&b, ex_call, 97, 96, err, sizeof err));
  ck_assert_str_eq(err, "frame too large: 97 bytes (limit 96)");
  ck_assert_uint_eq(b.n, 4);
  ck_assert(wire_frame_msg(&b, &call, 97, err, sizeof err));
  ck_assert_uint_eq(b.n, 4 + 4 + 97);
  ck_assert_mem_eq(b.p + 4, "\x00\x00\x00\x61", 4);
  ck_assert(wire_frame(&b, "", 0, 0, err, sizeof err));
  ck_assert_mem_eq(b.p + 105, "\x00\x00\x00\x00", 4);
  buf_free(&b);
}
END_TEST

START_TEST(test_truncated_frames) {
  WireReader r;
  const char *p;
  size_t len;
  wire_reader_init(&r, WIRE_FRAME_LIMIT);
  ck_assert(wire_reader_eof(&r));   /* nothing at all: a clean end */
  wire_reader_free(&r);

  wire_reader_init(&r, WIRE_FRAME_LIMIT);
  wire_reader_feed(&r, "\x00\x00", 2);
  ck_assert_int_eq(wire_reader_next(&r, &p, &len), WIRE_MORE);
  ck_assert(!wire_reader_eof(&r));
  ck_assert_str_eq(wire_reader_error(&r), "truncated frame: the stream ended after 2 of 4 length bytes");
  ck_assert_int_eq(wire_reader_next(&r, &p, &len), WIRE_ERROR);
  wire_reader_free(&r);

  Buf s = { 0 };
  WireMsg call = call_of(v_int(99));
  ck_assert(wire_frame_msg(&s, &call, WIRE_FRAME_LIMIT, err, sizeof err));
  ck_assert(wire_frame_msg(&s, &call, WIRE_FRAME_LIMIT, err, sizeof err));
  wire_reader_init(&r, WIRE_FRAME_LIMIT);
  wire_reader_feed(&r, s.p, 101 + 4 + 10);
  ck_assert_int_eq(wire_reader_next(&r, &p, &len), WIRE_FRAME);
  ck_assert_int_eq(wire_reader_next(&r, &p, &len), WIRE_MORE);
  ck_assert(!wire_reader_eof(&r));
  ck_assert_str_eq(wire_reader_error(&r), "truncated frame: the stream ended after 10 of 97 payload bytes");
  wire_reader_free(&r);
  buf_free(&s);
}
END_TEST

static Suite *wire_suite(void) {
  Suite *s = suite_create("wire");
  TCase *tc = tcase_create("reference");
  tcase_add_test(tc, test_reference_examples_encode);
  tcase_add_test(tc, test_reference_examples_frames);
  tcase_add_test(tc, test_reference_examples_decode);
  suite_add_tcase(s, tc);
  tc = tcase_create("messages");
  tcase_add_test(tc, test_every_kind_round_trips);
  tcase_add_test(tc, test_names_and_scopes);
  tcase_add_test(tc, test_null_strings);
  tcase_add_test(tc, test_u64_extremes);
  tcase_add_test(tc, test_extra_fields_ignored);
  suite_add_tcase(s, tc);
  tc = tcase_create("values");
  tcase_add_test(tc, test_every_value_round_trips);
  tcase_add_test(tc, test_reference_values_decode);
  tcase_add_test(tc, test_values_we_refuse);
  tcase_add_test(tc, test_value_errors);
  tcase_add_test(tc, test_continuation_values);
  tcase_add_test(tc, test_decoded_values_survive_collection);
  suite_add_tcase(s, tc);
  tc = tcase_create("errors");
  tcase_add_test(tc, test_numbers_out_of_range);
  tcase_add_test(tc, test_malformed_json);
  tcase_add_test(tc, test_message_types);
  tcase_add_test(tc, test_wrong_fields);
  tcase_add_test(tc, test_partial_message_on_failure);
  tcase_add_test(tc, test_nesting_limit);
  tcase_add_test(tc, test_deep_nesting_refused);
  suite_add_tcase(s, tc);
  tc = tcase_create("frames");
  tcase_add_test(tc, test_frames_split_everywhere);
  tcase_add_test(tc, test_frames_carry_messages);
  tcase_add_test(tc, test_frame_too_large);
  tcase_add_test(tc, test_frame_writer_limit);
  tcase_add_test(tc, test_truncated_frames);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  GC_INIT();
  return run_suite(wire_suite());
}
