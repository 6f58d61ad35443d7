/* C test of libsdm: codec calls, every error path, sessions on the embedded
 * default store, events from library threads and in dispatch mode.
 * Built and run by ffi/ci.sh, plainly and under ASan/LSan/UBSan. */
#include "sdm.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int failures = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, \
                    __LINE__, #cond, sdm_last_error());                              \
            failures++;                                                              \
        }                                                                            \
    } while (0)

#define CHECK_CODE(call, code)                                                          \
    do {                                                                                \
        sdm_result r_ = (call);                                                         \
        if (r_ != (code)) {                                                             \
            fprintf(stderr, "%s:%d: %s returned %u, expected %u (last error: %s)\n",    \
                    __FILE__, __LINE__, #call, (unsigned)r_, (unsigned)(code),          \
                    sdm_last_error());                                                  \
            failures++;                                                                 \
        }                                                                               \
    } while (0)

static void test_version(void) {
    const char *v = sdm_version();
    CHECK(v != NULL && strlen(v) > 0);
}

static void test_codec(void) {
    const char *json = "{\"Coins\":250,\"Inventory\":[\"Sword\",\"Shield\"]}";
    const char *expected = "*#Coins\x7f>13#Inventory\x7f|#Sword\x7f#Shield\x7f\x7f\x7f";
    char *text = NULL;
    CHECK_CODE(sdm_compress_json(json, 2, 3, true, &text), SDM_OK);
    CHECK(text != NULL && strcmp(text, expected) == 0);
    CHECK(strcmp(sdm_last_error(), "") == 0);

    char *back = NULL;
    CHECK_CODE(sdm_decompress_json(text, 3, &back), SDM_OK);
    CHECK(back != NULL && strcmp(back, json) == 0);
    sdm_string_free(back);
    back = NULL;

    size_t len = 0;
    char *text2 = NULL;
    CHECK_CODE(sdm_compress_json_len(json, 2, 3, true, &text2, &len), SDM_OK);
    CHECK(text2 != NULL && len == strlen(expected) && memcmp(text2, expected, len) == 0);
    CHECK_CODE(sdm_decompress_json_len(text2, len, 3, &back), SDM_OK);
    CHECK(back != NULL && strcmp(back, json) == 0);
    sdm_string_free(back);
    sdm_string_free(text2);
    sdm_string_free(text);

    /* Level 1 writes the sequence as a keyed table. */
    CHECK_CODE(sdm_compress_json("[true]", 1, 3, true, &text), SDM_OK);
    CHECK(text != NULL && strcmp(text, "*>1+\x7f") == 0);
    sdm_string_free(text);

    /* A string holding U+0000: the C-string call refuses, the _len one works. */
    text = (char *)"sentinel";
    CHECK_CODE(sdm_compress_json("\"a\\u0000b\"", 2, 3, true, &text), SDM_CONTAINS_NUL);
    CHECK(text == NULL);
    CHECK_CODE(sdm_compress_json_len("\"a\\u0000b\"", 2, 3, true, &text, &len), SDM_OK);
    CHECK(len == 5 && memcmp(text, "#a\0b\x7f", 5) == 0);
    CHECK_CODE(sdm_decompress_json_len(text, len, 3, &back), SDM_OK);
    CHECK(back != NULL && strcmp(back, "\"a\\u0000b\"") == 0);
    sdm_string_free(back);
    sdm_string_free(text);

    /* The empty text is nil. */
    CHECK_CODE(sdm_decompress_json("", 3, &back), SDM_OK);
    CHECK(back != NULL && strcmp(back, "null") == 0);
    sdm_string_free(back);
}

static void test_codec_errors(void) {
    char *out = (char *)"sentinel";
    size_t len = 7;
    /* NULL arguments */
    CHECK_CODE(sdm_compress_json(NULL, 2, 3, true, &out), SDM_NULL_ARGUMENT);
    CHECK(out == NULL);
    CHECK(strstr(sdm_last_error(), "json") != NULL);
    CHECK_CODE(sdm_compress_json("1", 2, 3, true, NULL), SDM_NULL_ARGUMENT);
    CHECK_CODE(sdm_compress_json_len("1", 2, 3, true, &out, NULL), SDM_NULL_ARGUMENT);
    CHECK_CODE(sdm_decompress_json(NULL, 3, &out), SDM_NULL_ARGUMENT);
    CHECK_CODE(sdm_decompress_json("+", 3, NULL), SDM_NULL_ARGUMENT);
    CHECK_CODE(sdm_decompress_json_len(NULL, 3, 3, &out), SDM_NULL_ARGUMENT);
    /* bad JSON */
    CHECK_CODE(sdm_compress_json("{\"a\":", 2, 3, true, &out), SDM_INVALID_JSON);
    CHECK(out == NULL);
    CHECK(strlen(sdm_last_error()) > 0);
    CHECK_CODE(sdm_compress_json("", 2, 3, true, &out), SDM_INVALID_JSON);
    /* bad UTF-8 */
    CHECK_CODE(sdm_compress_json("\"\xff\xfe\"", 2, 3, true, &out), SDM_INVALID_UTF8);
    CHECK(strstr(sdm_last_error(), "UTF-8") != NULL);
    CHECK_CODE(sdm_decompress_json("#\xc3\x28\x7f", 3, &out), SDM_INVALID_UTF8);
    CHECK_CODE(sdm_decompress_json_len("#\xc3\x28\x7f", 4, 3, &out), SDM_INVALID_UTF8);
    /* codec refusals */
    CHECK_CODE(sdm_compress_json("1", 3, 3, true, &out), SDM_CODEC);
    CHECK_CODE(sdm_compress_json("1.5", 2, 99, true, &out), SDM_CODEC);
    CHECK_CODE(sdm_compress_json("\"a\x7f\"", 2, 3, false, &out), SDM_CODEC);
    CHECK_CODE(sdm_decompress_json("*#a", 3, &out), SDM_CODEC);
    CHECK_CODE(sdm_decompress_json("?", 3, &out), SDM_CODEC);
    CHECK(out == NULL);
    (void)len;
    /* nesting: as deep as the codec's limit (512), no deeper */
    {
        char deep[2 * 513 + 1];
        memset(deep, '[', 513);
        memset(deep + 513, ']', 513);
        deep[2 * 513] = 0;
        CHECK_CODE(sdm_compress_json(deep, 2, 3, true, &out), SDM_INVALID_JSON);
        CHECK(strstr(sdm_last_error(), "512") != NULL);
        deep[2 * 513 - 1] = 0; /* 512 deep: drop one '[' and one ']' */
        CHECK_CODE(sdm_compress_json(deep + 1, 2, 3, true, &out), SDM_OK);
        sdm_string_free(out);
    }
    /* every _free accepts NULL */
    sdm_string_free(NULL);
    /* a success clears the last error */
    CHECK_CODE(sdm_compress_json("1", 2, 3, true, &out), SDM_OK);
    CHECK(strcmp(sdm_last_error(), "") == 0);
    sdm_string_free(out);
}


/* ---- helpers for sessions ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t main_thread;

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static int read_int(const int *p) {
    int v;
    pthread_mutex_lock(&lock);
    v = *p;
    pthread_mutex_unlock(&lock);
    return v;
}

static void add_int(int *p, int n) {
    pthread_mutex_lock(&lock);
    *p += n;
    pthread_mutex_unlock(&lock);
}

/* Waits (up to 20 s) until *p >= target; in dispatch mode runs dispatch. */
static int wait_for(const int *p, int target, sdm_context *dispatch_ctx) {
    int i;
    for (i = 0; i < 2000; i++) {
        if (dispatch_ctx != NULL) sdm_context_dispatch(dispatch_ctx);
        if (read_int(p) >= target) return 1;
        sleep_ms(10);
    }
    return 0;
}

static char *get_text(sdm_result (*getter)(sdm_session *, char **), sdm_session *s) {
    char *out = NULL;
    CHECK_CODE(getter(s, &out), SDM_OK);
    return out;
}

/* ---- context error paths ---- */

static void test_context_errors(void) {
    sdm_context *ctx = (sdm_context *)&ctx;
    sdm_context_options opts = sdm_context_options_default();
    sdm_response resp = {SDM_RESPONSE_SUCCESS, NULL};
    CHECK(opts.events == SDM_EVENTS_CALLBACK);
    CHECK_CODE(sdm_context_new(NULL, NULL, NULL), SDM_NULL_ARGUMENT);
    CHECK_CODE(sdm_context_new("bogus://nowhere", NULL, &ctx), SDM_UNSUPPORTED_STORE);
    CHECK(ctx == NULL);
    CHECK(strstr(sdm_last_error(), "bogus://") != NULL);
    CHECK_CODE(sdm_context_new("sqlite://", NULL, &ctx), SDM_UNSUPPORTED_STORE);
    CHECK_CODE(sdm_context_new("memory://\xff", NULL, &ctx), SDM_INVALID_UTF8);
    opts.events = 7;
    CHECK_CODE(sdm_context_new(NULL, &opts, &ctx), SDM_INVALID_ARGUMENT);
    CHECK(strstr(sdm_last_error(), "events") != NULL);
    CHECK_CODE(sdm_context_shutdown(NULL), SDM_NULL_ARGUMENT);
    CHECK(sdm_context_dispatch(NULL) == 0);
    CHECK_CODE(sdm_session_new(NULL, "P", NULL, "1", (sdm_session **)&ctx), SDM_NULL_ARGUMENT);
    CHECK_CODE(sdm_session_open(NULL, NULL, &resp), SDM_NULL_ARGUMENT);
    CHECK_CODE(sdm_session_save_async(NULL, NULL, NULL), SDM_NULL_ARGUMENT);
    CHECK(resp.data == NULL);
    sdm_context_free(NULL);
    sdm_session_free(NULL);
    sdm_connection_free(NULL);
    sdm_response_clear(NULL);
    sdm_response_clear(&resp);
    CHECK_CODE(sdm_connection_disconnect(NULL), SDM_NULL_ARGUMENT);
    CHECK(!sdm_connection_is_connected(NULL));
}

/* ---- two sessions on the default store, callback mode ---- */

struct queue_state {
    sdm_session *session;
    int batches;
    char values[256];
    pthread_t thread;
};

static void on_queue(void *user_data, const char *read_id, const char *values_json) {
    struct queue_state *q = (struct queue_state *)user_data;
    pthread_mutex_lock(&lock);
    snprintf(q->values, sizeof q->values, "%s", values_json);
    q->thread = pthread_self();
    pthread_mutex_unlock(&lock);
    /* a blocking call from the callback thread works */
    CHECK_CODE(sdm_session_remove(q->session, read_id, NULL), SDM_OK);
    add_int(&q->batches, 1);
}

static int state_events[3];
static void on_state(void *user_data, sdm_state state) {
    (void)user_data;
    if ((unsigned)state < 3) add_int(&state_events[state], 1);
}

static char *mutate_coins(void *user_data, const char *current_json) {
    int *calls = (int *)user_data;
    (*calls)++;
    CHECK(strcmp(current_json, "{\"Coins\":100,\"Items\":[\"Sword\"]}") == 0);
    return strdup("{\"Coins\":60,\"Items\":[\"Sword\"]}");
}

static char *mutate_nothing(void *user_data, const char *current_json) {
    (void)user_data;
    (void)current_json;
    return NULL;
}

static char *mutate_bad(void *user_data, const char *current_json) {
    (void)user_data;
    (void)current_json;
    return strdup("{not json");
}

struct done {
    int n;
    sdm_response_code code;
};

static void on_done(void *user_data, sdm_response_code code, const char *data) {
    struct done *d = (struct done *)user_data;
    (void)data;
    pthread_mutex_lock(&lock);
    d->code = code;
    d->n++;
    pthread_mutex_unlock(&lock);
}

static void test_two_sessions(void) {
    sdm_context *ctx = NULL;
    sdm_session *s1 = NULL, *s2 = NULL, *again = NULL, *h1 = NULL, *h2 = NULL, *r1 = NULL;
    sdm_connection *c_state = NULL, *c_queue = NULL;
    sdm_response resp = {SDM_RESPONSE_SUCCESS, NULL};
    struct queue_state q;
    char *text;
    int mutate_calls = 0;
    double secs = 0;
    uint32_t attempts = 0;
    bool flag = true;
    size_t chars = 0, count = 0;
    double fraction = 0;
    int64_t ids[4] = {0, 0, 0, 0};
    const int64_t set_ids[2] = {42, 7};
    sdm_state state = SDM_STATE_DESTROYED;

    char dir[] = "/tmp/sdm-test-XXXXXX";
    char url[128], path[128];
    const char *suffixes[3] = {"", "-wal", "-shm"};
    int i;

    memset(&q, 0, sizeof q);
    /* the embedded store: a SQLite file in a fresh temporary directory */
    CHECK(mkdtemp(dir) != NULL);
    snprintf(url, sizeof url, "sqlite://%s/players.db", dir);
    CHECK_CODE(sdm_context_new(url, NULL, &ctx), SDM_OK);
    if (ctx == NULL) return;
    CHECK(sdm_context_events_mode(ctx) == SDM_EVENTS_CALLBACK);
    CHECK_CODE(sdm_session_new(ctx, "Players", NULL, "1", &s1), SDM_OK);
    CHECK_CODE(sdm_session_new(ctx, "Players", NULL, "2", &s2), SDM_OK);
    CHECK_CODE(sdm_session_new(ctx, NULL, NULL, "1", &again), SDM_NULL_ARGUMENT);
    CHECK_CODE(sdm_session_new(ctx, "Players", NULL, "\xc3\x28", &again), SDM_INVALID_UTF8);
    CHECK_CODE(sdm_session_find(ctx, "Players", NULL, "404", &again), SDM_NOT_FOUND);
    CHECK(again == NULL);
    CHECK_CODE(sdm_session_find(ctx, "Players", NULL, "1", &again), SDM_OK);
    text = get_text(sdm_session_get_id, again);
    CHECK(text != NULL && strcmp(text, "Players/global/1") == 0);
    sdm_string_free(text);
    sdm_session_free(again);
    again = NULL;

    q.session = s2;
    CHECK_CODE(sdm_session_on_state_changed(s1, on_state, NULL, &c_state), SDM_OK);
    CHECK_CODE(sdm_session_on_process_queue(s2, on_queue, &q, &c_queue), SDM_OK);
    {
        sdm_connection *none = (sdm_connection *)&none;
        CHECK_CODE(sdm_session_on_saved(s1, NULL, NULL, &none), SDM_NULL_ARGUMENT);
        CHECK(none == NULL);
    }
    CHECK(sdm_connection_is_connected(c_state));

    /* bad template JSON, then open both */
    CHECK_CODE(sdm_session_open(s1, "{\"Coins\":", &resp), SDM_INVALID_JSON);
    CHECK(resp.code == SDM_RESPONSE_SUCCESS && resp.data == NULL);
    CHECK_CODE(sdm_session_open(s1, "{\"Coins\":0,\"Items\":[]}", &resp), SDM_OK);
    CHECK(resp.code == SDM_RESPONSE_SUCCESS);
    sdm_response_clear(&resp);
    CHECK_CODE(sdm_session_open(s2, "{\"Coins\":0,\"Items\":[]}", NULL), SDM_OK);
    CHECK_CODE(sdm_session_get_state(s1, &state), SDM_OK);
    CHECK(state == SDM_STATE_OPEN);
    CHECK(wait_for(&state_events[SDM_STATE_OPEN], 1, NULL));
    {
        /* each open gets a fencing token; games fence their own side effects with it */
        uint64_t token = 0;
        CHECK_CODE(sdm_session_get_lock_token(s1, &token), SDM_OK);
        CHECK(token > 0);
        CHECK_CODE(sdm_session_get_lock_token(s1, NULL), SDM_NULL_ARGUMENT);
    }

    /* a second server (hidden session, other UniqueId) finds key 1 locked */
    CHECK_CODE(sdm_session_hidden(ctx, "Players", NULL, "1", &h1), SDM_OK);
    CHECK_CODE(sdm_session_open(h1, NULL, &resp), SDM_LOCKED);
    CHECK(resp.code == SDM_RESPONSE_LOCKED);
    text = get_text(sdm_session_get_unique_id, s1);
    CHECK(resp.data != NULL && text != NULL && strcmp(resp.data, text) == 0);
    sdm_string_free(text);
    sdm_response_clear(&resp);
    CHECK(resp.data == NULL);

    /* values through JSON */
    text = get_text(sdm_session_get_value_json, s1);
    CHECK(text != NULL && strcmp(text, "{\"Coins\":0,\"Items\":{}}") == 0); /* an empty table is {} */
    sdm_string_free(text);
    CHECK_CODE(sdm_session_set_value_json(s1, "{\"Coins\":100,\"Items\":[\"Sword\"]}"), SDM_OK);
    CHECK_CODE(sdm_session_set_value_json(s1, "{bad"), SDM_INVALID_JSON);
    CHECK_CODE(sdm_session_set_value_json(s1, "\"\xff\""), SDM_INVALID_UTF8);
    CHECK_CODE(sdm_session_set_value_json(s1, NULL), SDM_NULL_ARGUMENT);
    CHECK_CODE(sdm_session_mutate_json(s1, mutate_nothing, NULL), SDM_OK);
    CHECK_CODE(sdm_session_mutate_json(s1, mutate_coins, &mutate_calls), SDM_OK);
    CHECK(mutate_calls == 1);
    CHECK_CODE(sdm_session_mutate_json(s1, mutate_bad, NULL), SDM_INVALID_JSON);
    CHECK_CODE(sdm_session_mutate_json(s1, NULL, NULL), SDM_NULL_ARGUMENT);
    text = get_text(sdm_session_clone_json, s1);
    CHECK(text != NULL && strcmp(text, "{\"Coins\":60,\"Items\":[\"Sword\"]}") == 0);
    sdm_string_free(text);
    CHECK_CODE(sdm_session_reconcile_json(s1, "{\"Coins\":5,\"Level\":1}"), SDM_OK);
    text = get_text(sdm_session_get_value_json, s1);
    CHECK(text != NULL && strcmp(text, "{\"Coins\":60,\"Items\":[\"Sword\"],\"Level\":1}") == 0);
    sdm_string_free(text);
    CHECK_CODE(sdm_session_usage(s1, &chars, &fraction), SDM_OK);
    CHECK(chars > 10 && fraction > 0 && fraction < 0.001);

    /* queue 40 coins from "another server" to player 2 */
    CHECK_CODE(sdm_session_hidden(ctx, "Players", NULL, "2", &h2), SDM_OK);
    CHECK_CODE(sdm_session_queue(h2, "{\"Coins\":40}", NULL, NULL, &resp), SDM_OK);
    CHECK_CODE(sdm_session_queue(h2, "{oops", NULL, NULL, &resp), SDM_INVALID_JSON);
    CHECK_CODE(sdm_session_queue(h2, NULL, NULL, NULL, &resp), SDM_NULL_ARGUMENT);
    {
        double too_long = 1e9;
        CHECK_CODE(sdm_session_queue(h2, "1", &too_long, NULL, &resp), SDM_SESSION);
        CHECK(resp.code == SDM_RESPONSE_ERROR && resp.data != NULL);
        sdm_response_clear(&resp);
    }
    CHECK(wait_for(&q.batches, 1, NULL));
    pthread_mutex_lock(&lock);
    CHECK(strcmp(q.values, "[{\"Coins\":40}]") == 0);
    CHECK(!pthread_equal(q.thread, main_thread));
    pthread_mutex_unlock(&lock);
    CHECK_CODE(sdm_session_set_value_json(s2, "{\"Coins\":40,\"Items\":[]}"), SDM_OK);

    /* properties with validation */
    CHECK_CODE(sdm_session_set_save_interval(s1, 5), SDM_INVALID_PROPERTY);
    CHECK(strstr(sdm_last_error(), "SaveInterval") != NULL);
    CHECK_CODE(sdm_session_set_save_interval(s1, -1), SDM_INVALID_PROPERTY);
    CHECK_CODE(sdm_session_set_save_interval(s1, 20), SDM_OK);
    CHECK_CODE(sdm_session_get_save_interval(s1, &secs), SDM_OK);
    CHECK(secs == 20);
    CHECK_CODE(sdm_session_get_save_interval(s1, NULL), SDM_NULL_ARGUMENT);
    CHECK_CODE(sdm_session_set_save_delay(s1, 11), SDM_INVALID_PROPERTY);
    CHECK(strstr(sdm_last_error(), "SaveDelay") != NULL);
    CHECK_CODE(sdm_session_set_save_delay(s1, 1), SDM_OK);
    CHECK_CODE(sdm_session_set_lock_interval(s1, 9), SDM_INVALID_PROPERTY);
    CHECK_CODE(sdm_session_get_lock_interval(s1, &secs), SDM_OK);
    CHECK(secs >= 10);
    CHECK_CODE(sdm_session_set_lock_attempts(s1, 0), SDM_INVALID_PROPERTY);
    CHECK(strstr(sdm_last_error(), "LockAttempts") != NULL);
    CHECK_CODE(sdm_session_set_lock_attempts(s1, 5), SDM_OK);
    CHECK_CODE(sdm_session_get_lock_attempts(s1, &attempts), SDM_OK);
    CHECK(attempts == 5);
    CHECK_CODE(sdm_session_get_save_on_close(s1, &flag), SDM_OK);
    CHECK(flag);
    CHECK_CODE(sdm_session_get_hidden(h1, &flag), SDM_OK);
    CHECK(flag);
    CHECK_CODE(sdm_session_set_user_ids(s1, set_ids, 2), SDM_OK);
    CHECK_CODE(sdm_session_get_user_ids(s1, NULL, 0, &count), SDM_OK);
    CHECK(count == 2);
    CHECK_CODE(sdm_session_get_user_ids(s1, ids, 4, &count), SDM_OK);
    CHECK(count == 2 && ids[0] == 42 && ids[1] == 7);
    CHECK_CODE(sdm_session_set_metadata_json(s1, "[1]"), SDM_INVALID_JSON);
    CHECK_CODE(sdm_session_set_metadata_json(s1, "{\"Note\":\"vip\"}"), SDM_OK);
    text = get_text(sdm_session_get_metadata_json, s1);
    CHECK(text != NULL && strcmp(text, "{\"Note\":\"vip\"}") == 0);
    sdm_string_free(text);

    /* save, close, and read back through other handles */
    CHECK_CODE(sdm_session_save(s1, &resp), SDM_OK);
    CHECK(resp.code == SDM_RESPONSE_SAVED);
    CHECK(resp.data != NULL && strcmp(resp.data, "{\"Coins\":60,\"Items\":[\"Sword\"],\"Level\":1}") == 0);
    sdm_response_clear(&resp);
    CHECK_CODE(sdm_session_close(s2, &resp), SDM_OK);
    CHECK(resp.code == SDM_RESPONSE_SAVED);
    sdm_response_clear(&resp);
    CHECK_CODE(sdm_session_save(s2, &resp), SDM_STATE);
    CHECK(resp.code == SDM_RESPONSE_STATE && resp.data != NULL && strcmp(resp.data, "Closed") == 0);
    sdm_response_clear(&resp);
    CHECK_CODE(sdm_session_read(h2, NULL, NULL), SDM_OK);
    text = get_text(sdm_session_get_value_json, h2);
    CHECK(text != NULL && strcmp(text, "{\"Coins\":40,\"Items\":{}}") == 0);
    sdm_string_free(text);
    CHECK_CODE(sdm_session_hidden(ctx, "Players", NULL, "1", &r1), SDM_OK);
    CHECK_CODE(sdm_session_read(r1, NULL, NULL), SDM_OK);
    text = get_text(sdm_session_get_value_json, r1);
    CHECK(text != NULL && strcmp(text, "{\"Coins\":60,\"Items\":[\"Sword\"],\"Level\":1}") == 0);
    sdm_string_free(text);

    /* the async variants */
    {
        struct done d[5];
        memset(d, 0, sizeof d);
        CHECK_CODE(sdm_session_queue_async(h2, "{\"Coins\":1}", NULL, NULL, on_done, &d[0]), SDM_OK);
        CHECK_CODE(sdm_session_queue_async(h2, "[", NULL, NULL, on_done, &d[0]), SDM_INVALID_JSON);
        CHECK_CODE(sdm_session_read_async(h2, NULL, on_done, &d[1]), SDM_OK);
        CHECK_CODE(sdm_session_remove_async(h2, "unknown-read-id", on_done, &d[2]), SDM_OK);
        CHECK_CODE(sdm_session_remove_async(h2, NULL, on_done, &d[2]), SDM_NULL_ARGUMENT);
        CHECK_CODE(sdm_session_close_async(s1, on_done, &d[3]), SDM_OK);
        CHECK_CODE(sdm_session_destroy_async(h1, on_done, &d[4]), SDM_OK);
        CHECK_CODE(sdm_session_save_async(s2, NULL, NULL), SDM_OK); /* no callback: fire and forget */
        CHECK(wait_for(&d[0].n, 1, NULL) && d[0].code == SDM_RESPONSE_SUCCESS);
        CHECK(wait_for(&d[1].n, 1, NULL) && d[1].code == SDM_RESPONSE_SUCCESS);
        CHECK(wait_for(&d[2].n, 1, NULL));
        CHECK(wait_for(&d[3].n, 1, NULL) && d[3].code == SDM_RESPONSE_SAVED);
        CHECK(wait_for(&d[4].n, 1, NULL) && d[4].code == SDM_RESPONSE_SUCCESS);
        CHECK(wait_for(&state_events[SDM_STATE_CLOSED], 1, NULL));
        CHECK_CODE(sdm_session_get_state(h1, &state), SDM_OK);
        CHECK(state == SDM_STATE_DESTROYED);
        CHECK_CODE(sdm_session_open(h1, NULL, &resp), SDM_STATE);
        CHECK(resp.data != NULL && strcmp(resp.data, "Destroyed") == 0);
        sdm_response_clear(&resp);
    }

    /* shutdown: destroys s1, a second shutdown is an error */
    CHECK_CODE(sdm_context_shutdown(ctx), SDM_OK);
    CHECK_CODE(sdm_context_shutdown(ctx), SDM_SHUTDOWN);
    CHECK_CODE(sdm_session_get_state(s1, &state), SDM_OK);
    CHECK(state == SDM_STATE_DESTROYED);
    CHECK(wait_for(&state_events[SDM_STATE_DESTROYED], 1, NULL));
    CHECK_CODE(sdm_session_save(s1, &resp), SDM_SHUTDOWN);
    CHECK_CODE(sdm_session_new(ctx, "Players", NULL, "3", &again), SDM_SHUTDOWN);
    CHECK(again == NULL);

    sdm_connection_free(c_state);
    sdm_connection_free(c_queue);
    sdm_session_free(s1);
    sdm_session_free(s2);
    sdm_session_free(h1);
    sdm_session_free(h2);
    sdm_session_free(r1);
    sdm_context_free(ctx);
    for (i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/players.db%s", dir, suffixes[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* ---- many threads at once, callback mode ---- */

#define THREADS 8
#define SAVES 10

static int completions = 0;
static int completion_errors = 0;
static int completions_on_main = 0;

static void on_complete(void *user_data, sdm_response_code code, const char *data) {
    (void)user_data;
    (void)data;
    if (code != SDM_RESPONSE_SAVED) add_int(&completion_errors, 1);
    if (pthread_equal(pthread_self(), main_thread)) add_int(&completions_on_main, 1);
    add_int(&completions, 1);
}

struct worker {
    sdm_context *ctx;
    int index;
};

static void *worker_main(void *arg) {
    struct worker *w = (struct worker *)arg;
    sdm_session *s = NULL;
    char key[16], json[64];
    int i;
    snprintf(key, sizeof key, "t%d", w->index);
    CHECK_CODE(sdm_session_new(w->ctx, "Workers", "threads", key, &s), SDM_OK);
    CHECK_CODE(sdm_session_open(s, "{\"n\":0}", NULL), SDM_OK);
    for (i = 0; i < SAVES; i++) {
        snprintf(json, sizeof json, "{\"n\":%d}", i + 1);
        CHECK_CODE(sdm_session_set_value_json(s, json), SDM_OK);
        CHECK_CODE(sdm_session_save_async(s, on_complete, w), SDM_OK);
    }
    CHECK_CODE(sdm_session_save(s, NULL), SDM_OK);
    sdm_session_free(s);
    return NULL;
}

static char *no_negatives(void *user_data, const char *value_json) {
    (void)user_data;
    return strchr(value_json, '-') != NULL ? strdup("no negative numbers") : NULL;
}

static void test_many_threads(void) {
    sdm_context *ctx = NULL;
    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    int i;
    CHECK_CODE(sdm_metrics_install(), SDM_OK);
    CHECK_CODE(sdm_context_new("memory://", NULL, &ctx), SDM_OK);
    if (ctx == NULL) return;
    for (i = 0; i < THREADS; i++) {
        workers[i].ctx = ctx;
        workers[i].index = i;
        CHECK(pthread_create(&threads[i], NULL, worker_main, &workers[i]) == 0);
    }
    for (i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    CHECK(wait_for(&completions, THREADS * SAVES, NULL));
    CHECK(read_int(&completions) == THREADS * SAVES);
    CHECK(read_int(&completion_errors) == 0);
    CHECK(read_int(&completions_on_main) == 0);
    {
        bool critical = true;
        CHECK_CODE(sdm_context_set_critical_config(ctx, 5, 120000, 120000), SDM_OK);
        CHECK_CODE(sdm_context_is_critical(ctx, &critical), SDM_OK);
        CHECK(!critical);
        CHECK_CODE(sdm_context_on_critical_changed(ctx, NULL, NULL), SDM_NULL_ARGUMENT);
    }
    {
        sdm_session *v = NULL;
        sdm_response resp = {SDM_RESPONSE_SUCCESS, NULL};
        CHECK_CODE(sdm_context_set_validator(ctx, "Validated", no_negatives, NULL), SDM_OK);
        CHECK_CODE(sdm_session_new(ctx, "Validated", NULL, "1", &v), SDM_OK);
        CHECK_CODE(sdm_session_open(v, "{\"Coins\":1}", &resp), SDM_OK);
        CHECK_CODE(sdm_session_set_value_json(v, "{\"Coins\":-1}"), SDM_OK);
        CHECK_CODE(sdm_session_save(v, &resp), SDM_SESSION);
        CHECK(resp.data != NULL && strstr(resp.data, "no negative numbers") != NULL);
        sdm_response_clear(&resp);
        CHECK_CODE(sdm_session_set_value_json(v, "{\"Coins\":2}"), SDM_OK);
        CHECK_CODE(sdm_session_save(v, &resp), SDM_OK);
        sdm_response_clear(&resp);
        sdm_session_free(v);
    }
    {
        sdm_shutdown_report report;
        char *keys = NULL;
        CHECK_CODE(sdm_context_shutdown_within(ctx, 20000, &report, &keys), SDM_OK);
        CHECK(report.unfinished == 0 && report.failed == 0);
        CHECK(keys != NULL && keys[0] == '\0');
        sdm_string_free(keys);
        CHECK_CODE(sdm_context_shutdown_within(ctx, 20000, NULL, NULL), SDM_SHUTDOWN);
    }
    {
        char *text = NULL;
        CHECK_CODE(sdm_metrics_render(&text), SDM_OK);
        CHECK(text != NULL && strstr(text, "sdm_saves_total") != NULL);
        sdm_string_free(text);
    }
    sdm_context_free(ctx);
}

/* ---- dispatch mode: everything on the calling thread ---- */

static int dispatched = 0;
static int dispatched_elsewhere = 0;

static void note_thread(void) {
    if (!pthread_equal(pthread_self(), main_thread)) add_int(&dispatched_elsewhere, 1);
    add_int(&dispatched, 1);
}
static void d_state(void *ud, sdm_state s) { (void)ud; (void)s; note_thread(); }
static void d_saving(void *ud, const char *v) { (void)ud; CHECK(v != NULL); note_thread(); }
static void d_saved(void *ud, sdm_response_code c, const char *d) { (void)ud; (void)d; CHECK(c == SDM_RESPONSE_SAVED); note_thread(); }

static void test_dispatch_mode(void) {
    sdm_context *ctx = NULL;
    sdm_session *s = NULL;
    sdm_connection *c1 = NULL, *c2 = NULL, *c3 = NULL;
    sdm_context_options opts = sdm_context_options_default();
    opts.events = SDM_EVENTS_DISPATCH;
    CHECK_CODE(sdm_context_new("memory://", &opts, &ctx), SDM_OK);
    if (ctx == NULL) return;
    CHECK(sdm_context_events_mode(ctx) == SDM_EVENTS_DISPATCH);
    CHECK_CODE(sdm_session_new(ctx, "Players", NULL, "d", &s), SDM_OK);
    CHECK_CODE(sdm_session_on_state_changed(s, d_state, NULL, &c1), SDM_OK);
    CHECK_CODE(sdm_session_on_saving(s, d_saving, NULL, &c2), SDM_OK);
    CHECK_CODE(sdm_session_on_saved(s, d_saved, NULL, &c3), SDM_OK);
    CHECK_CODE(sdm_session_open(s, "{\"Coins\":1}", NULL), SDM_OK);  /* StateChanged */
    CHECK_CODE(sdm_session_save(s, NULL), SDM_OK);                 /* Saving, Saved */
    CHECK_CODE(sdm_session_save_async(s, d_saved, NULL), SDM_OK);  /* Saving, Saved, completion */
    sleep_ms(200);
    CHECK(read_int(&dispatched) == 0); /* nothing runs outside dispatch */
    CHECK(wait_for(&dispatched, 6, ctx));
    CHECK_CODE(sdm_connection_disconnect(c2), SDM_OK);
    CHECK(!sdm_connection_is_connected(c2));
    CHECK_CODE(sdm_context_shutdown(ctx), SDM_OK); /* Saved, StateChanged(Destroyed) */
    CHECK(wait_for(&dispatched, 8, ctx));
    CHECK(read_int(&dispatched_elsewhere) == 0);
    CHECK(sdm_context_dispatch(ctx) == 0);
    sdm_connection_free(c1);
    sdm_connection_free(c2);
    sdm_connection_free(c3);
    sdm_session_free(s);
    sdm_context_free(ctx);
}

/* ---- two servers on one SQLite file: holder, handoff with deferral, admin ---- */

static int release_calls = 0;
static sdm_deferral *held_deferral = NULL;
static uint64_t seen_defer_limit = 0;

static void on_release(void *user_data, sdm_release_request *request) {
    sdm_deferral *d = NULL;
    (void)user_data;
    CHECK_CODE(sdm_release_request_defer(request, &d), SDM_OK);
    pthread_mutex_lock(&lock);
    held_deferral = d;
    seen_defer_limit = sdm_release_request_defer_limit_ms(request);
    pthread_mutex_unlock(&lock);
    add_int(&release_calls, 1);
}

/* Frees the deferral 700 ms after the callback took it; sets *done. */
static void *release_later(void *arg) {
    int *done = (int *)arg;
    sdm_deferral *d = NULL;
    if (!wait_for(&release_calls, 1, NULL)) return NULL;
    sleep_ms(700);
    pthread_mutex_lock(&lock);
    d = held_deferral;
    held_deferral = NULL;
    pthread_mutex_unlock(&lock);
    add_int(done, 1);
    sdm_deferral_free(d);
    return NULL;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void test_handoff(void) {
    sdm_context *ca = NULL, *cb = NULL;
    sdm_session *a = NULL, *b = NULL;
    sdm_connection *conn = NULL, *conn2 = NULL;
    sdm_response resp = {SDM_RESPONSE_SUCCESS, NULL};
    sdm_lock_holder h;
    sdm_liveness_config cfg = sdm_liveness_config_default();
    sdm_close_reason reason = SDM_CLOSE_REASON_OTHER;
    char dir[] = "/tmp/sdm-hop-XXXXXX";
    char url[128], path[128];
    const char *suffixes[3] = {"", "-wal", "-shm"};
    char *ua = NULL, *ub = NULL, *node = NULL, *json = NULL, *value = NULL;
    uint64_t deadline = 0;
    bool handoff = false, was_held = false;
    int released = 0, i;
    pthread_t t;
    double started;

    memset(&h, 0, sizeof h);
    CHECK(mkdtemp(dir) != NULL);
    snprintf(url, sizeof url, "sqlite://%s/hop.db", dir);
    CHECK_CODE(sdm_context_new(url, NULL, &ca), SDM_OK);
    CHECK_CODE(sdm_context_new(url, NULL, &cb), SDM_OK);
    if (ca == NULL || cb == NULL) return;
    CHECK(cfg.heartbeat_ttl_ms == 10000 && cfg.heartbeat_interval_ms == 3000 && cfg.enabled);
    cfg.handoff_defer_limit_ms = 9000;
    CHECK_CODE(sdm_context_set_liveness_config(ca, &cfg), SDM_OK);
    cfg.heartbeat_interval_ms = 0;
    CHECK_CODE(sdm_context_set_liveness_config(ca, &cfg), SDM_INVALID_ARGUMENT);
    CHECK_CODE(sdm_context_set_liveness_config(ca, NULL), SDM_NULL_ARGUMENT);
    CHECK_CODE(sdm_session_new(ca, "Players", NULL, "9", &a), SDM_OK);
    CHECK_CODE(sdm_session_new(cb, "Players", NULL, "9", &b), SDM_OK);
    CHECK_CODE(sdm_session_get_close_reason(a, &reason), SDM_OK);
    CHECK(reason == SDM_CLOSE_REASON_NONE);

    CHECK_CODE(sdm_session_open(a, "{\"Coins\":1}", NULL), SDM_OK);
    CHECK_CODE(sdm_session_set_value_json(a, "{\"Coins\":5}"), SDM_OK);
    ua = get_text(sdm_session_get_unique_id, a);
    ub = get_text(sdm_session_get_unique_id, b);
    CHECK_CODE(sdm_context_get_node_id(ca, &node), SDM_OK);

    /* no wait: LOCKED at once, with the holder */
    CHECK_CODE(sdm_session_open_ex(b, NULL, &resp, &h), SDM_LOCKED);
    CHECK(resp.code == SDM_RESPONSE_LOCKED && resp.data && strcmp(resp.data, ua) == 0);
    CHECK(h.unique_id && strcmp(h.unique_id, ua) == 0);
    CHECK(h.node_id && node && strcmp(h.node_id, node) == 0);
    CHECK(h.host != NULL && h.pid == (uint32_t)getpid() && h.live && h.since_ms > 0 && h.token > 0);
    sdm_lock_holder_clear(&h);
    CHECK(h.unique_id == NULL && h.host == NULL);
    sdm_response_clear(&resp);

    /* wait with a handoff; A's callback defers for 700 ms */
    CHECK_CODE(sdm_session_on_release_requested(a, on_release, NULL, &conn), SDM_OK);
    CHECK_CODE(sdm_session_on_release_requested(a, NULL, NULL, &conn2), SDM_NULL_ARGUMENT);
    CHECK(conn2 == NULL);
    CHECK_CODE(sdm_session_on_release_requested(a, on_release, NULL, &conn2), SDM_OK);
    CHECK_CODE(sdm_connection_disconnect(conn2), SDM_OK); /* a second listener, gone again */
    sdm_connection_free(conn2);
    CHECK_CODE(sdm_session_set_open_wait(b, 20000, true), SDM_OK);
    CHECK_CODE(sdm_session_get_open_wait(b, &deadline, &handoff), SDM_OK);
    CHECK(deadline == 20000 && handoff);
    CHECK(pthread_create(&t, NULL, release_later, &released) == 0);
    started = now_ms();
    CHECK_CODE(sdm_session_open_ex(b, NULL, &resp, &h), SDM_OK);
    CHECK(read_int(&released) == 1); /* the deferral held it back */
    CHECK(now_ms() - started >= 650.0);
    CHECK(h.unique_id == NULL);
    pthread_join(t, NULL);
    CHECK(read_int(&release_calls) == 1);
    CHECK(seen_defer_limit == 9000);
    value = get_text(sdm_session_get_value_json, b);
    CHECK(value && strcmp(value, "{\"Coins\":5}") == 0);
    CHECK_CODE(sdm_session_get_close_reason(a, &reason), SDM_OK);
    CHECK(reason == SDM_CLOSE_REASON_HANDED_OFF);

    /* admin: list, then unlock (fences B) */
    CHECK_CODE(sdm_admin_locks(ca, NULL, &json), SDM_OK);
    CHECK(json && strstr(json, ub) != NULL && strstr(json, "\"live\":true") != NULL &&
          strstr(json, "\"id\":\"Players/global/9\"") != NULL);
    sdm_string_free(json);
    CHECK_CODE(sdm_admin_unlock(ca, "Players", NULL, "9", &was_held, &h), SDM_OK);
    CHECK(was_held && h.unique_id && strcmp(h.unique_id, ub) == 0);
    sdm_lock_holder_clear(&h);
    CHECK_CODE(sdm_session_save(b, NULL), SDM_FENCED);
    CHECK_CODE(sdm_session_get_close_reason(b, &reason), SDM_OK);
    CHECK(reason == SDM_CLOSE_REASON_LOCK_LOST);
    CHECK_CODE(sdm_admin_unlock(ca, "Players", NULL, "9", &was_held, NULL), SDM_OK);
    CHECK(!was_held);

    sdm_string_free(value);
    sdm_string_free(ua);
    sdm_string_free(ub);
    sdm_string_free(node);
    sdm_connection_free(conn);
    sdm_session_free(a);
    sdm_session_free(b);
    sdm_context_free(ca);
    sdm_context_free(cb);
    for (i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/hop.db%s", dir, suffixes[i]);
        remove(path);
    }
    rmdir(dir);
}

int main(void) {
    main_thread = pthread_self();
    test_version();
    test_codec();
    test_codec_errors();
    test_context_errors();
    test_two_sessions();
    test_many_threads();
    test_dispatch_mode();
    test_handoff();
    if (failures) {
        fprintf(stderr, "test_sdm: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_sdm: all checks passed\n");
    return 0;
}
