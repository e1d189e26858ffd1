/* tests/unit/check_net.c — util/idmap.c, and net/conn.c on loopback: two
 * Nets on one libuv loop, one listening, one dialling; messages both ways;
 * a dialler that retries until its peer listens; a connection fed garbage
 * is closed and the other goes on. */
#include <gc.h>
#include <string.h>
#include "net/conn.h"
#include "tests/unit/testutil.h"

/* {===== The id map =====} */

START_TEST(test_idmap) {
  IdMap m = { 0 };
  static int vals[3];
  ck_assert_ptr_null(idmap_get(&m, 1));
  ck_assert_ptr_null(idmap_remove(&m, 1));
  for (uint64_t k = 0; k < 10000; k++) idmap_put(&m, k << 48 | k, &vals[k % 3]);
  ck_assert_uint_eq(m.count, 10000);
  for (uint64_t k = 0; k < 10000; k++) ck_assert_ptr_eq(idmap_get(&m, k << 48 | k), &vals[k % 3]);
  ck_assert_ptr_null(idmap_get(&m, 5));
  for (uint64_t k = 0; k < 10000; k += 2) ck_assert_ptr_eq(idmap_remove(&m, k << 48 | k), &vals[k % 3]);
  ck_assert_uint_eq(m.count, 5000);
  for (uint64_t k = 0; k < 10000; k++)
    ck_assert_ptr_eq(idmap_get(&m, k << 48 | k), k % 2 ? &vals[k % 3] : NULL);
  idmap_put(&m, 1ull << 48 | 1, &vals[0]);  /* replaces */
  ck_assert_ptr_eq(idmap_get(&m, 1ull << 48 | 1), &vals[0]);
  ck_assert_uint_eq(m.count, 5000);
  /* Tombstones are reused: churn does not grow the table without end. */
  size_t cap = m.cap;
  for (int round = 0; round < 20; round++) {
    for (uint64_t k = 0; k < 5000; k++) idmap_put(&m, 1000000 + k, &vals[1]);
    for (uint64_t k = 0; k < 5000; k++) idmap_remove(&m, 1000000 + k);
  }
  ck_assert_uint_le(m.cap, cap * 2);
  ck_assert_uint_eq(m.count, 5000);
}
END_TEST

static void count_entry(void *ctx, uint64_t key, void *val) {
  (void)val;
  IdMap *m = ctx;
  if (key % 3 == 0) idmap_remove(m, key);  /* removing the entry given is allowed */
}

START_TEST(test_idmap_each) {
  IdMap m = { 0 };
  static int v;
  for (uint64_t k = 1; k <= 300; k++) idmap_put(&m, k, &v);
  idmap_each(&m, count_entry, &m);
  ck_assert_uint_eq(m.count, 200);
  ck_assert_ptr_null(idmap_get(&m, 3));
  ck_assert_ptr_eq(idmap_get(&m, 4), &v);
}
END_TEST

/* {===== Connections =====} */

/* What one side saw. */
typedef struct Seen {
  int ups, downs, messages, refused;
  WireMsg last;
  char reason[256];
  Conn *conn;
} Seen;

static void on_up(Net *net, Conn *c) {
  Seen *s = net->node;
  s->ups++;
  s->conn = c;
}

static void on_message(Net *net, Conn *c, WireMsg *m) {
  (void)c;
  Seen *s = net->node;
  s->messages++;
  s->last = *m;
}

static void on_refused(Net *net, Conn *c, WireMsg *m, const char *why) {
  (void)c, (void)why;
  Seen *s = net->node;
  s->refused++;
  s->last = *m;
}

static void on_down(Net *net, Conn *c, const char *reason) {
  Seen *s = net->node;
  s->downs++;
  snprintf(s->reason, sizeof s->reason, "%s", reason);
  if (s->conn == c) s->conn = NULL;
}

static const ConnOps ops = { on_up, on_message, on_refused, on_down };

/* Runs [loop] until [done] says so (or 5 seconds pass: a failure). */
static void run_until(uv_loop_t *loop, bool (*done)(void *), void *ctx) {
  uint64_t start = uv_now(loop);
  while (!done(ctx)) {
    ck_assert_msg(uv_now(loop) - start < 5000, "timed out");
    uv_run(loop, UV_RUN_NOWAIT);
    uv_sleep(1);
    uv_update_time(loop);
  }
}

static bool both_up(void *ctx) {
  Seen *s = ctx;
  return s[0].ups == 1 && s[1].ups == 1;
}

static bool reconnected(void *ctx) {
  Seen *s = ctx;
  return s[0].ups == 2 && s[1].ups == 2;
}

static bool got_message(void *ctx) { return ((Seen *)ctx)->messages > 0; }
static bool got_refused(void *ctx) { return ((Seen *)ctx)->refused > 0; }
static bool went_down(void *ctx) { return ((Seen *)ctx)->downs > 0; }

static void close_all(uv_loop_t *loop, Net *a, Net *b) {
  net_close(a);
  net_close(b);
  uv_run(loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(loop), 0);  /* nothing left open */
}

/* A server and a client that dialled it, on one loop, both up; what each
 * saw in seen[0] and seen[1]. */
typedef struct Link {
  uv_loop_t loop;
  Seen *seen;
  Net *server, *client;
} Link;

static Link *connected_pair(void) {
  Link *p = GC_MALLOC_UNCOLLECTABLE(sizeof *p);
  uv_loop_init(&p->loop);
  p->seen = GC_MALLOC_UNCOLLECTABLE(2 * sizeof *p->seen);
  p->server = net_new(&p->loop, "server", &ops, &p->seen[0]);
  p->client = net_new(&p->loop, "client", &ops, &p->seen[1]);
  ck_assert(net_listen(p->server, 0));
  ck_assert_int_gt(p->server->port, 0);
  net_dial(p->client, sym_intern_cstr("server"), "127.0.0.1", p->server->port);
  run_until(&p->loop, both_up, p->seen);
  return p;
}

START_TEST(test_messages_both_ways) {
  Link *p = connected_pair();
  Seen *seen = p->seen;
  WireMsg m = { .kind = MSG_CREATE_NOTIFY, .object_id = 42, .machine_id = v_cstring("client").as.str };
  ck_assert(conn_send(seen[1].conn, &m));
  run_until(&p->loop, got_message, &seen[0]);
  ck_assert_int_eq(seen[0].last.kind, MSG_CREATE_NOTIFY);
  ck_assert_uint_eq(seen[0].last.object_id, 42);
  ck_assert_str_eq(seen[0].last.machine_id->data, "client");
  /* And back, a large frame in pieces. */
  Buf big = { 0 };
  for (int j = 0; j < 300000; j++) buf_putc(&big, (char)('a' + j % 26));
  WireMsg r = { .kind = MSG_CALL_RESPONSE, .request_id = 7,
                .result = { .ok = true, .value = v_string(big.p, big.n) } };
  ck_assert(conn_send(seen[0].conn, &r));
  run_until(&p->loop, got_message, &seen[1]);
  ck_assert_uint_eq(seen[1].last.request_id, 7);
  ck_assert_uint_eq(seen[1].last.result.value.as.str->len, 300000);
  buf_free(&big);
  close_all(&p->loop, p->server, p->client);
}
END_TEST

START_TEST(test_dial_retries_until_up) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  Seen *seen = GC_MALLOC_UNCOLLECTABLE(2 * sizeof *seen);
  /* A port nobody listens on yet: find one, then free it. */
  Net *probe = net_new(&loop, "probe", &ops, &seen[0]);
  ck_assert(net_listen(probe, 0));
  int port = probe->port;
  net_close(probe);
  uv_run(&loop, UV_RUN_DEFAULT);
  Net *client = net_new(&loop, "client", &ops, &seen[1]);
  net_dial(client, sym_intern_cstr("server"), "127.0.0.1", port);
  uint64_t start = uv_now(&loop);
  while (uv_now(&loop) - start < 150) {  /* a few failed attempts */
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_sleep(5);
    uv_update_time(&loop);
  }
  ck_assert_int_eq(seen[1].ups, 0);
  ck_assert(client->dials[0]->failures > 1);
  Net *server = net_new(&loop, "server", &ops, &seen[0]);
  ck_assert(net_listen(server, port));
  run_until(&loop, both_up, seen);
  ck_assert_uint_eq(client->dials[0]->failures, 0);
  close_all(&loop, server, client);
}
END_TEST

/* Sends raw bytes on the client's connection, as a broken peer would. */
static void send_raw(Conn *c, const char *p, size_t n) {
  ck_assert_int_eq(net_write((uv_stream_t *)&c->tcp, p, n, 1 << 20, NULL), 0);
}

START_TEST(test_garbage_closes) {
  static const struct { const char *bytes; size_t n; const char *reason; } cases[] = {
    { "\xde\xad\xbe\xef", 4, "frame too large: 3735928559 bytes (limit 16777216)" },
    { "\0\0\0\5hello", 9, "bad message: malformed JSON at byte 0: unexpected character" },
    { "\0\0\0\x0f{\"type\":\"nope\"}", 19, "bad message: unknown message type \"nope\"" },
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    Link *p = connected_pair();
    Seen *seen = p->seen;
    send_raw(seen[1].conn, cases[k].bytes, cases[k].n);
    run_until(&p->loop, went_down, &seen[0]);
    ck_assert_str_eq(seen[0].reason, cases[k].reason);
    ck_assert_uint_eq(p->server->conns.count, 0);
    /* The dialler sees its peer go, and dials again. */
    run_until(&p->loop, went_down, &seen[1]);
    run_until(&p->loop, reconnected, seen);
    close_all(&p->loop, p->server, p->client);
  }
}
END_TEST

START_TEST(test_bad_call_is_refused_not_closed) {
  Link *p = connected_pair();
  Seen *seen = p->seen;
  static const char call[] = "{\"type\":\"call\",\"request_id\":5,\"target\":1,\"input\":\"Procedure\"}";
  char frame[128] = { 0, 0, 0, (char)(sizeof call - 1) };
  memcpy(frame + 4, call, sizeof call - 1);
  send_raw(seen[1].conn, frame, 4 + sizeof call - 1);
  run_until(&p->loop, got_refused, &seen[0]);
  ck_assert_uint_eq(seen[0].last.request_id, 5);
  ck_assert_int_eq(seen[0].downs, 0);
  WireMsg m = { .kind = MSG_DESTROY_NOTIFY, .object_id = 9 };
  ck_assert(conn_send(seen[1].conn, &m));
  run_until(&p->loop, got_message, &seen[0]);
  ck_assert_uint_eq(seen[0].last.object_id, 9);
  close_all(&p->loop, p->server, p->client);
}
END_TEST

static Suite *net_suite(void) {
  Suite *s = suite_create("net");
  TCase *tc = tcase_create("idmap");
  tcase_add_test(tc, test_idmap);
  tcase_add_test(tc, test_idmap_each);
  suite_add_tcase(s, tc);
  tc = tcase_create("conn");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_messages_both_ways);
  tcase_add_test(tc, test_dial_retries_until_up);
  tcase_add_test(tc, test_garbage_closes);
  tcase_add_test(tc, test_bad_call_is_refused_not_closed);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  GC_INIT();
  return run_suite(net_suite());
}
