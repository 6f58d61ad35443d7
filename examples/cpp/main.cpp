// Example C++17 game server using libsdm through include/sdm.h.
#include "sdm.h"

#include <cstdio>
#include <memory>
#include <string>

namespace {

// Owns a string returned by libsdm.
struct SdmString {
    char *ptr = nullptr;
    ~SdmString() { sdm_string_free(ptr); }
    std::string str() const { return ptr ? std::string(ptr) : std::string(); }
};

int failures = 0;

void check(bool ok, const char *what) {
    if (!ok) {
        std::fprintf(stderr, "FAILED: %s (last error: %s)\n", what, sdm_last_error());
        ++failures;
    }
}

}  // namespace

int main() {
    std::printf("sdm %s\n", sdm_version());

    SdmString compressed;
    check(sdm_compress_json(R"({"Coins":250})", 2, 3, true, &compressed.ptr) == SDM_OK, "compress");
    SdmString json;
    check(sdm_decompress_json(compressed.ptr, 3, &json.ptr) == SDM_OK, "decompress");
    check(json.str() == R"({"Coins":250})", "round trip");

    if (failures != 0) {
        std::fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    std::printf("example server: all checks passed\n");
    return 0;
}
