/* C test of libsdm: codec calls, every error path, sessions on the embedded
 * default store, events from library threads and in dispatch mode.
 * Built and run by ffi/ci.sh, plainly and under ASan/LSan/UBSan. */
#include "sdm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    /* every _free accepts NULL */
    sdm_string_free(NULL);
    /* a success clears the last error */
    CHECK_CODE(sdm_compress_json("1", 2, 3, true, &out), SDM_OK);
    CHECK(strcmp(sdm_last_error(), "") == 0);
    sdm_string_free(out);
}

/* SESSION TESTS */

int main(void) {
    test_version();
    test_codec();
    test_codec_errors();
    /* SESSION CALLS */
    if (failures) {
        fprintf(stderr, "test_sdm: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_sdm: all checks passed\n");
    return 0;
}
