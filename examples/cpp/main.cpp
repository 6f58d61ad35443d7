// Example C++17 game server using libsdm through include/sdm.h.
//
// Two players join; player 1 sends 40 coins to player 2 through player 2's
// queue (as another server would); the game loop takes events with
// sdm_context_dispatch on its own thread; both are saved, the server shuts
// down, and the stored values are checked. Exit code 0 when all is well.
#include "sdm.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

namespace sdm {

// A string returned by libsdm, freed on scope exit.
struct String {
    char *ptr = nullptr;
    String() = default;
    String(const String &) = delete;
    String &operator=(const String &) = delete;
    ~String() { sdm_string_free(ptr); }
    std::string str() const { return ptr ? std::string(ptr) : std::string(); }
};

// Throws with the library's message when a call fails.
void check(sdm_result r, const char *what) {
    if (r != SDM_OK) {
        throw std::runtime_error(std::string(what) + " failed (" + std::to_string(r) + "): " + sdm_last_error());
    }
}

struct ContextDeleter {
    void operator()(sdm_context *c) const { sdm_context_free(c); }
};
struct SessionDeleter {
    void operator()(sdm_session *s) const { sdm_session_free(s); }
};
struct ConnectionDeleter {
    void operator()(sdm_connection *c) const { sdm_connection_free(c); }
};
using Context = std::unique_ptr<sdm_context, ContextDeleter>;
using Session = std::unique_ptr<sdm_session, SessionDeleter>;
using Connection = std::unique_ptr<sdm_connection, ConnectionDeleter>;

Context make_context(const char *url, sdm_events_mode mode) {
    sdm_context_options opts = sdm_context_options_default();
    opts.events = mode;
    sdm_context *raw = nullptr;
    check(sdm_context_new(url, &opts, &raw), "sdm_context_new");
    return Context(raw);
}

Session session(sdm_context *ctx, const char *name, const char *key, bool hidden = false) {
    sdm_session *raw = nullptr;
    check(hidden ? sdm_session_hidden(ctx, name, nullptr, key, &raw) : sdm_session_new(ctx, name, nullptr, key, &raw),
          "sdm_session_new");
    return Session(raw);
}

std::string value(sdm_session *s) {
    String json;
    check(sdm_session_get_value_json(s, &json.ptr), "sdm_session_get_value_json");
    return json.str();
}

}  // namespace sdm

namespace {

struct Player2Inbox {
    sdm_session *session = nullptr;
    int coins_received = 0;
    std::thread::id thread;
};

// ProcessQueue handler of player 2: applies "{"Coins":N}" gifts.
void on_queue(void *user_data, const char *read_id, const char *values_json) {
    auto *inbox = static_cast<Player2Inbox *>(user_data);
    inbox->thread = std::this_thread::get_id();
    std::string values(values_json);
    // Tiny parser for the example's fixed shape: [{"Coins":40}, ...]
    std::size_t pos = 0;
    while ((pos = values.find("\"Coins\":", pos)) != std::string::npos) {
        pos += 8;
        inbox->coins_received += std::stoi(values.substr(pos));
    }
    sdm::check(sdm_session_remove(inbox->session, read_id, nullptr), "sdm_session_remove");
}

}  // namespace

int main() {
    try {
        std::printf("sdm %s\n", sdm_version());
        auto ctx = sdm::make_context(nullptr, SDM_EVENTS_DISPATCH);  // embedded default store

        auto p1 = sdm::session(ctx.get(), "Players", "1");
        auto p2 = sdm::session(ctx.get(), "Players", "2");
        const char *tmpl = R"({"Coins":100,"Level":1})";
        sdm::check(sdm_session_open(p1.get(), tmpl, nullptr), "open player 1");
        sdm::check(sdm_session_open(p2.get(), tmpl, nullptr), "open player 2");

        Player2Inbox inbox;
        inbox.session = p2.get();
        sdm_connection *raw = nullptr;
        sdm::check(sdm_session_on_process_queue(p2.get(), on_queue, &inbox, &raw), "on_process_queue");
        sdm::Connection conn(raw);

        // Player 1 pays 40 coins; the gift travels through player 2's queue.
        sdm::check(sdm_session_set_value_json(p1.get(), R"({"Coins":60,"Level":1})"), "set player 1");
        auto sender = sdm::session(ctx.get(), "Players", "2", /*hidden=*/true);
        sdm::check(sdm_session_queue(sender.get(), R"({"Coins":40})", nullptr, nullptr, nullptr), "queue");

        // Game loop: take events on this thread until the gift arrived.
        for (int frame = 0; frame < 2000 && inbox.coins_received == 0; ++frame) {
            sdm_context_dispatch(ctx.get());
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        if (inbox.coins_received != 40 || inbox.thread != std::this_thread::get_id()) {
            throw std::runtime_error("the queued gift did not arrive on the game thread");
        }
        sdm::check(sdm_session_set_value_json(p2.get(), R"({"Coins":140,"Level":1})"), "set player 2");

        sdm_response resp{};
        sdm::check(sdm_session_save(p1.get(), &resp), "save player 1");
        bool saved = resp.code == SDM_RESPONSE_SAVED;
        sdm_response_clear(&resp);
        if (!saved) throw std::runtime_error("save did not answer SAVED");

        // Read both back through hidden sessions (as another server would).
        auto check1 = sdm::session(ctx.get(), "Players", "1", true);
        sdm::check(sdm_session_read(check1.get(), nullptr, nullptr), "read player 1");
        if (sdm::value(check1.get()) != R"({"Coins":60,"Level":1})") throw std::runtime_error("player 1 not saved");

        sdm::check(sdm_session_close(p2.get(), nullptr), "close player 2");  // saves (SaveOnClose)
        auto check2 = sdm::session(ctx.get(), "Players", "2", true);
        sdm::check(sdm_session_read(check2.get(), nullptr, nullptr), "read player 2");
        if (sdm::value(check2.get()) != R"({"Coins":140,"Level":1})") throw std::runtime_error("player 2 not saved");

        sdm::check(sdm_context_shutdown(ctx.get()), "shutdown");
        if (sdm_context_shutdown(ctx.get()) != SDM_SHUTDOWN) throw std::runtime_error("second shutdown accepted");
        sdm_context_dispatch(ctx.get());

        std::printf("example server: player 1 has %s, player 2 has %s\n", sdm::value(p1.get()).c_str(),
                    sdm::value(p2.get()).c_str());
        std::printf("example server: all checks passed\n");
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "example server: %s\n", e.what());
        return 1;
    }
}
