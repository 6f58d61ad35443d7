// Example C++17 game server using libsdm through the C++ API, include/sdm.hpp.
//
// Two players join; player 1 sends 40 coins to player 2 through player 2's
// queue (as another server would); the game loop takes events with
// Context::dispatch() on its own thread; both are saved, the server shuts
// down, and the stored values are checked. Exit code 0 when all is well.
#include <sdm.hpp>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

namespace {

// Player 2's inbox: gifts applied by the ProcessQueue handler.
struct Inbox {
    int coins_received = 0;
    std::thread::id thread;
};

// Tiny parser for the example's fixed shape: [{"Coins":40}, ...]
int sum_coins(std::string_view values) {
    int sum = 0;
    for (std::size_t pos = 0; (pos = values.find("\"Coins\":", pos)) != std::string_view::npos;) {
        pos += 8;
        sum += std::stoi(std::string(values.substr(pos)));
    }
    return sum;
}

void expect(bool ok, const char *what) {
    if (!ok) throw std::runtime_error(what);
}

}  // namespace

int main() {
    try {
        std::printf("sdm %s\n", std::string(sdm::version()).c_str());
        sdm::ContextOptions options;
        options.events = sdm::EventsMode::Dispatch;  // callbacks only inside ctx.dispatch()
        sdm::Context ctx("", options);               // "": the embedded default store (sqlite://sdm.db)

        // Players join: DataStoreModule.new("Players", key), then Open(template).
        sdm::Session p1 = ctx.session("Players", "1");
        sdm::Session p2 = ctx.session("Players", "2");
        const char *tmpl = R"({"Coins":100,"Level":1})";
        p1.open(tmpl);  // throws sdm::Error (e.g. Status::Locked) when it cannot open
        if (auto r = p2.open(sdm::nothrow, tmpl); !r) {
            // the non-throwing form, for a game loop: r.status(), r.error().what()
            std::fprintf(stderr, "open player 2: %s (%s)\n", sdm::to_string(r.status()), r.error().what());
            return 1;
        }

        Inbox inbox;
        sdm::ScopedConnection gifts =
            p2.on_process_queue([&inbox, &p2](std::string_view read_id, std::string_view values) {
                inbox.thread = std::this_thread::get_id();
                inbox.coins_received += sum_coins(values);
                p2.remove(read_id);  // applied: do not hand them out again
            });

        // Player 1 pays 40 coins; the gift travels through player 2's queue,
        // sent by "another server" (a hidden session of the same key).
        p1.set_value(R"({"Coins":60,"Level":1})");
        sdm::Session sender = ctx.hidden("Players", "2");
        sender.queue(R"({"Coins":40})");

        // Game loop: take events on this thread until the gift arrived.
        for (int frame = 0; frame < 2000 && inbox.coins_received == 0; ++frame) {
            ctx.dispatch();
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        expect(inbox.coins_received == 40 && inbox.thread == std::this_thread::get_id(),
               "the queued gift did not arrive on the game thread");
        p2.mutate([&](std::string_view) -> std::optional<std::string> {
            return R"({"Coins":)" + std::to_string(100 + inbox.coins_received) + R"(,"Level":1})";
        });

        // Save() answers Saved with the value written (the developer-products pattern).
        sdm::Response saved = p1.save();
        expect(saved.code == sdm::ResponseCode::Saved, "save did not answer Saved");

        // Read both back through hidden sessions (as another server would).
        sdm::Session check1 = ctx.hidden("Players", "1");
        check1.read();
        expect(check1.value() == R"({"Coins":60,"Level":1})", "player 1 not saved");

        p2.close();  // saves (SaveOnClose)
        sdm::Session check2 = ctx.hidden("Players", "2");
        check2.read();
        expect(check2.value() == R"({"Coins":140,"Level":1})", "player 2 not saved");

        // Bind to close: destroys every session, saving and releasing locks.
        ctx.shutdown();
        try {
            ctx.shutdown();
            expect(false, "second shutdown accepted");
        } catch (const sdm::Error &e) {
            expect(e.status() == sdm::Status::Shutdown, "second shutdown: wrong status");
        }
        ctx.dispatch();

        std::printf("example server: player 1 has %s, player 2 has %s\n", p1.value().c_str(), p2.value().c_str());
        std::printf("example server: all checks passed\n");
        return 0;
    } catch (const sdm::Error &e) {
        std::fprintf(stderr, "example server: sdm error %s: %s\n", sdm::to_string(e.status()), e.what());
        return 1;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "example server: %s\n", e.what());
        return 1;
    }
}
