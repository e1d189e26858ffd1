/* net/wire.h — the wire format between nodes: messages (net/messages.def)
 * as JSON text, exactly as the reference node (anoma/avm-lab avm-node)
 * writes them, and frames (a 4-byte big-endian length, then the JSON).
 * Owns WireMsg, the encoder, the decoder, the frame writer and the
 * incremental frame reader.  No sockets here: bytes in, bytes out.
 *
 * Decisions, where the reference leaves room:
 *
 * - Values travel in the tagged encoding of v_print_json (vm/print.c): the
 *   reference's Val ({"Nat":5}, {"List":[...]}, "Nothing", ...) plus our
 *   tags Int, Sym and Unit.  Decoding maps Nat, Int, Bool, Str, Sym, List,
 *   Pair, Nothing, Just, ObjectRef, TxRef and Unit back to values.  Rejected,
 *   with an error naming the message and field: a Nat above INT64_MAX (our
 *   integers are signed 64-bit; ObjectRef and TxRef take the whole unsigned
 *   range), an Int outside the signed range, and "Procedure", "Program" and
 *   "Opaque", which cannot cross machines.  Pair [a, b] is a cons: a Pair
 *   whose second half is a list reads back as a longer list (our pairs and
 *   lists are one thing).
 * - Numbers outside the 64-bit range are an error, not clamped (json-c
 *   clamps them), and so are fractions where an integer is expected.
 * - Fields a message does not have are ignored, as serde does by default;
 *   of two fields with the same name the last counts (json-c's choice; serde
 *   would refuse).  "type" may come anywhere in the object.
 * - JSON is parsed strictly (no trailing commas, single quotes, leading
 *   zeros, NaN or bare words; UTF-8 is validated); whitespace after the
 *   object is allowed, anything else after it is an error.
 * - Nesting: a value in a message may be inside at most WIRE_MAX_DEPTH
 *   objects and arrays, the message's own object included (a List or Pair
 *   is an object and an array, a Just an object: a call's input may nest
 *   512 Lists or 1023 Justs); deeper is an error before any value is built,
 *   so hostile input cannot exhaust the C stack.  The reference
 *   (serde_json) stops at 128.
 * - Frames: a payload above the reader's limit (WIRE_FRAME_LIMIT, 16 MiB,
 *   as the reference) is an error as soon as its length prefix arrives; the
 *   writer refuses to produce one.  A connection that closes inside a frame,
 *   length prefix included, is a truncated frame.
 *
 * Memory: decoded values and strings are Boehm GC objects; keep a WireMsg
 * where the collector looks (the stack, GC memory), never in malloc'd
 * memory.  json-c's trees are freed before wire_decode returns.  The
 * WireReader's buffer is malloc'd: wire_reader_free releases it. */
#ifndef AVM_WIRE_H
#define AVM_WIRE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/buf.h"
#include "vm/value.h"

/* The largest payload a frame may carry, as the reference node. */
#define WIRE_FRAME_LIMIT ((size_t)16 << 20)
/* How many objects and arrays may enclose a value in a message. */
#define WIRE_MAX_DEPTH 1024
/* Room enough for any error message of this module. */
#define WIRE_ERR_MAX 256

typedef enum WireKind {
#define WIRE_MSG(KIND, type, scope) MSG_##KIND,
#include "net/messages.def"
  MSG__COUNT
} WireKind;

/* Each field's number, for WireMsg.have: WF_request_id, WF_target, ... */
typedef enum WireField {
#define WIRE_FIELD(field, kind) WF_##field,
#include "net/messages.def"
  WF__COUNT
} WireField;
_Static_assert(WF__COUNT <= 32, "WireMsg.have has a bit per field");
#define WIRE_HAS(m, field) (((m)->have >> WF_##field) & 1u)

/* A call_response's result: [value] when [ok], else the [error] text. */
typedef struct WireResult {
  bool ok;
  Value value;
  String *error;
} WireResult;

#define WIRE_CTYPE_U64 uint64_t
#define WIRE_CTYPE_VALUE Value
#define WIRE_CTYPE_STR String *   /* NULL is written as "" */
#define WIRE_CTYPE_RESULT WireResult
#define WIRE_CTYPE_JSON String *  /* JSON text, passed through (NULL: null) */

/* One message: [kind] says which of the fields are its own (messages.def);
 * the others are not read or written. */
typedef struct WireMsg {
  WireKind kind;
  uint32_t have;   /* bit WF_x: field x was decoded (see wire_decode) */
#define WIRE_FIELD(field, kind) WIRE_CTYPE_##kind field;
#include "net/messages.def"
} WireMsg;

/* The "type" of each message: "call", "call_response", ... */
extern const char *const wire_msg_names[MSG__COUNT];
/* True for the messages only nodes of ours know (never send them to a
 * reference node). */
bool wire_msg_ours_only(WireKind kind);
/* The message whose "type" is [name]; false if there is none. */
bool wire_msg_kind(const char *name, size_t len, WireKind *out);

/* {===== Messages as JSON =====} */

/* Appends [m] as compact JSON, "type" first, then its fields in order. */
void wire_encode(Buf *out, const WireMsg *m);
/* Reads the JSON text [json] ([len] bytes, no NUL needed) into [out].
 * False with a message in [err] when it is not a message we accept (see
 * the decisions above).  Even then [out] holds what was read before the
 * failure: [kind] is MSG__COUNT until "type" is known, and [have] marks the
 * fields decoded so far, in wire order, so a node can answer a call whose
 * input it cannot take (WIRE_HAS(out, request_id)). */
bool wire_decode(const char *json, size_t len, WireMsg *out, char *err, size_t errlen);

/* {===== Values with procedures: continuations =====}
 * A program's continuation (net/continuation.c) travels as JSON text in a
 * JSON field; its values may hold procedures, written
 * {"Closure":{"module":HASH,"proto":N,"up":[...]}} and {"Prim":NAME}.
 * Decoding them needs the receiver's code: [procs] builds them (in
 * messages, without it, they are refused as "Procedure" is). */
struct json_object;
typedef struct WireProcs {
  void *ctx;
  bool (*closure)(void *ctx, const char *module, uint64_t proto, const Value *up, size_t nup, Value *out,
                  char *err, size_t errlen);
  bool (*prim)(void *ctx, const char *name, Value *out, char *err, size_t errlen);
} WireProcs;

/* Parses JSON text as wire_decode does (strictly, nesting bounded); the
 * caller frees the tree with json_object_put. */
bool wire_json_parse(const char *text, size_t len, struct json_object **out, char *err, size_t errlen);
/* Reads the tagged value [j]; [procs] may be NULL. */
bool wire_json_value(struct json_object *j, const WireProcs *procs, Value *out, char *err, size_t errlen);

/* {===== Frames =====} */

/* Appends a frame holding [payload]; false with a message (and [out] as it
 * was) when the payload is longer than [limit] bytes. */
bool wire_frame(Buf *out, const char *payload, size_t len, size_t limit, char *err, size_t errlen);
/* Appends a frame holding [m] encoded; false as wire_frame. */
bool wire_frame_msg(Buf *out, const WireMsg *m, size_t limit, char *err, size_t errlen);

typedef enum WireStatus {
  WIRE_MORE,    /* no complete frame yet: feed more bytes */
  WIRE_FRAME,   /* a frame: its payload is given */
  WIRE_ERROR    /* the stream is broken (wire_reader_error): close it */
} WireStatus;

/* Cuts a byte stream that arrives in arbitrary pieces into frames. */
typedef struct WireReader {
  Buf in;          /* bytes received and not handed out yet, from [at] */
  size_t at;
  size_t limit;    /* the largest payload accepted */
  bool failed;
  char err[WIRE_ERR_MAX];
} WireReader;

void wire_reader_init(WireReader *r, size_t limit);
void wire_reader_free(WireReader *r);
/* Adds [n] bytes that arrived.  Payloads given out before are invalid. */
void wire_reader_feed(WireReader *r, const char *bytes, size_t n);
/* The next complete frame: its [payload] (not NUL-terminated) and [len],
 * valid until the next feed.  Once it has given WIRE_ERROR it always does. */
WireStatus wire_reader_next(WireReader *r, const char **payload, size_t *len);
/* The stream ended: true if it ended between frames; false (an error) if
 * it ended inside one. */
bool wire_reader_eof(WireReader *r);
/* Why the reader failed, or "". */
const char *wire_reader_error(const WireReader *r);

#endif
