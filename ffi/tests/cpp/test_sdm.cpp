// C++ test of include/sdm.hpp: errors as exceptions with codes, the
// non-throwing overloads, RAII and moves, callbacks and their state, async
// operations, events in both delivery modes, and the codec.
// Built and run by ffi/ci.sh, plainly and under ASan/LSan/UBSan.
#include "sdm.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <stdlib.h>  // mkdtemp
#include <unistd.h>  // rmdir

namespace {

int failures = 0;

#define CHECK(cond)                                                                                    \
    do {                                                                                               \
        if (!(cond)) {                                                                                 \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, \
                         sdm_last_error());                                                            \
            ++failures;                                                                                \
        }                                                                                              \
    } while (0)

// `expr` must throw sdm::Error with `status`; `then` runs with the error as `e`.
#define CHECK_THROWS(expr, expected_status, ...)                                                    \
    do {                                                                                               \
        bool thrown_ = false;                                                                          \
        try {                                                                                          \
            (void)(expr);                                                                              \
        } catch (const sdm::Error &e) {                                                                \
            thrown_ = true;                                                                            \
            if (e.status() != (expected_status)) {                                                     \
                std::fprintf(stderr, "%s:%d: %s threw %s (%s), expected %s\n", __FILE__, __LINE__, #expr, \
                             sdm::to_string(e.status()), e.what(), sdm::to_string(expected_status));   \
                ++failures;                                                                            \
            }                                                                                          \
            __VA_ARGS__;                                                                               \
        }                                                                                              \
        if (!thrown_) {                                                                                \
            std::fprintf(stderr, "%s:%d: %s did not throw\n", __FILE__, __LINE__, #expr);              \
            ++failures;                                                                                \
        }                                                                                              \
    } while (0)

using namespace std::chrono_literals;

// Waits (up to 20 s) until `pred()` holds; in dispatch mode, dispatches meanwhile.
bool wait_until(const std::function<bool()> &pred, sdm::Context *dispatch = nullptr) {
    for (int i = 0; i < 2000; ++i) {
        if (dispatch) dispatch->dispatch();
        if (pred()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return pred();
}

std::size_t entries() { return sdm::detail::registry().size(); }

void test_codec() {
    const std::string json = R"({"Coins":250,"Inventory":["Sword","Shield"]})";
    const std::string text = sdm::compress(json);
    CHECK(text == "*#Coins\x7f>13#Inventory\x7f|#Sword\x7f#Shield\x7f\x7f\x7f");
    CHECK(sdm::decompress(text) == json);
    CHECK(sdm::compress("[true]", sdm::CompressOptions{1, 3, true}) == "*>1+\x7f");
    // A string holding U+0000: std::string carries the NUL byte both ways.
    const std::string with_nul = sdm::compress(R"("a\u0000b")");
    CHECK(with_nul == std::string("#a\0b\x7f", 5));
    CHECK(sdm::decompress(with_nul) == R"("a\u0000b")");
    CHECK(sdm::decompress("") == "null");

    CHECK_THROWS(sdm::compress("{"), sdm::Status::InvalidJson, CHECK(std::string(e.what()).size() > 0));
    CHECK_THROWS(sdm::compress("1", sdm::CompressOptions{3, 3, true}), sdm::Status::Codec, CHECK(e.code() == SDM_CODEC));
    CHECK_THROWS(sdm::compress(std::string_view("1\0", 2)), sdm::Status::InvalidArgument, {});
    CHECK_THROWS(sdm::decompress("#abc"), sdm::Status::Codec, CHECK(e.response() == nullptr));

    sdm::Result<std::string> ok = sdm::compress(sdm::nothrow, "[1,2]");
    CHECK(ok && ok.ok() && ok.status() == sdm::Status::Ok && sdm::decompress(*ok) == "[1,2]");
    sdm::Result<std::string> bad = sdm::compress(sdm::nothrow, "[1,");
    CHECK(!bad && bad.status() == sdm::Status::InvalidJson && std::string(bad.error().what()).size() > 0);
    CHECK(bad.value_or("fallback") == "fallback");
    CHECK_THROWS(bad.value(), sdm::Status::InvalidJson, {});
    CHECK(!sdm::decompress(sdm::nothrow, "#abc"));
    CHECK(!sdm::version().empty());
}

void test_context_errors() {
    CHECK_THROWS(sdm::Context("nosuch://x"), sdm::Status::UnsupportedStore, CHECK(e.code() == SDM_UNSUPPORTED_STORE));
    sdm::Result<sdm::Context> r = sdm::Context::create(sdm::nothrow, "nosuch://x");
    CHECK(!r && r.status() == sdm::Status::UnsupportedStore);
    sdm::ContextOptions bad;
    bad.events = static_cast<sdm::EventsMode>(7);
    CHECK(sdm::Context::create(sdm::nothrow, "memory://", bad).status() == sdm::Status::InvalidArgument);

    // RAII and moves: the moved-from context is empty, its calls fail cleanly.
    sdm::Context a("memory://");
    CHECK(a && a.events_mode() == sdm::EventsMode::Callback);
    sdm::Context b(std::move(a));
    CHECK(!a && b);  // NOLINT(bugprone-use-after-move): moved-from state is specified
    CHECK(a.shutdown(sdm::nothrow).status() == sdm::Status::NullArgument);
    CHECK(a.dispatch() == 0);
    CHECK_THROWS(a.session("Players", "1"), sdm::Status::NullArgument, {});
    a = std::move(b);
    CHECK(a && !b);
    sdm::Session s = a.session("Players", "1");
    sdm::Session moved = std::move(s);
    CHECK(!s && moved);
    CHECK_THROWS(s.value(), sdm::Status::NullArgument, {});
    CHECK(moved.id() == "Players/global/1");
    std::vector<sdm::Session> many;
    for (int i = 0; i < 4; ++i) many.push_back(a.session("Players", "scope" + std::to_string(i), "k"));
    CHECK(many[3].id() == "Players/scope3/k");
    a.shutdown();
    CHECK_THROWS(a.shutdown(), sdm::Status::Shutdown, {});
    CHECK_THROWS(a.session("Players", "2"), sdm::Status::Shutdown, {});
    CHECK_THROWS(moved.open(), sdm::Status::Shutdown, CHECK(e.response() == nullptr));
}

// Collects events from the callback thread.
struct Events {
    std::mutex m;
    std::vector<sdm::State> states;
    std::vector<std::string> saving;
    std::vector<sdm::Response> saved;
    std::vector<std::string> queued;
    std::thread::id thread;

    template <class F>
    auto locked(F f) {
        std::lock_guard<std::mutex> lock(m);
        return f();
    }
};

void test_sessions() {
    const std::size_t base = entries();
    sdm::Context ctx("memory://");
    sdm::Session s1 = ctx.session("Players", "1");
    sdm::Session s2 = ctx.session("Players", "2");
    CHECK_THROWS(ctx.session("Players", std::string_view("1\0x", 3)), sdm::Status::InvalidArgument,
                 CHECK(std::string(e.what()).find("key") != std::string::npos));
    CHECK_THROWS(ctx.session("Players", "\xc3\x28"), sdm::Status::InvalidUtf8, {});
    CHECK(!ctx.find("Players", "404").has_value());
    CHECK(ctx.find(sdm::nothrow, "Players", "", "404").status() == sdm::Status::NotFound);
    {
        std::optional<sdm::Session> again = ctx.find("Players", "1");
        CHECK(again && again->id() == "Players/global/1" && !again->hidden());
    }

    Events ev;
    auto ev_alive = std::make_shared<int>(0);  // captured by listeners: freed with them
    sdm::Connection c_state = s1.on_state_changed([&ev, ev_alive](sdm::State st) {
        ev.locked([&] {
            ev.states.push_back(st);
            ev.thread = std::this_thread::get_id();
        });
    });
    sdm::Connection c_saving =
        s1.on_saving([&ev](std::string_view v) { ev.locked([&] { ev.saving.emplace_back(v); }); });
    sdm::Connection c_saved = s1.on_saved([&ev](const sdm::Response &r) { ev.locked([&] { ev.saved.push_back(r); }); });
    sdm::Connection c_attempts = s1.on_attempts_changed([](std::uint32_t) {});
    sdm::Connection c_queue = s2.on_process_queue([&ev, &s2](std::string_view read_id, std::string_view values) {
        ev.locked([&] { ev.queued.emplace_back(values); });
        s2.remove(read_id);  // a blocking call inside a callback (callback mode)
    });
    CHECK(c_state.connected() && c_saving.connected() && c_queue && c_attempts.connected());
    CHECK(entries() == base + 5);
    CHECK(ev_alive.use_count() == 2);
    CHECK_THROWS(s1.on_saved(sdm::ResponseHandler()), sdm::Status::NullArgument, {});
    CHECK(entries() == base + 5);

    // Errors without a response (arguments) and with one (Locked).
    CHECK_THROWS(s1.open(R"({"Coins":)"), sdm::Status::InvalidJson, CHECK(e.response() == nullptr));
    sdm::Response r = s1.open(R"({"Coins":0,"Items":[]})");
    CHECK(r.code == sdm::ResponseCode::Success && r.ok() && r.data.empty());
    CHECK(s2.open(sdm::nothrow, R"({"Coins":0,"Items":[]})").ok());
    CHECK(s1.state() == sdm::State::Open);
    CHECK(s1.lock_token() > 0);
    CHECK(wait_until([&] { return ev.locked([&] { return !ev.states.empty(); }); }));
    CHECK(ev.locked([&] { return ev.states[0] == sdm::State::Open && ev.thread != std::this_thread::get_id(); }));

    sdm::Session h1 = ctx.hidden("Players", "1");
    CHECK(h1.hidden() && h1.unique_id() != s1.unique_id());
    CHECK_THROWS(h1.open(), sdm::Status::Locked, {
        CHECK(e.code() == SDM_LOCKED);
        CHECK(e.response() && e.response()->code == sdm::ResponseCode::Locked && e.response()->data == s1.unique_id());
    });
    {
        sdm::Result<sdm::Response> locked = h1.open(sdm::nothrow);
        CHECK(!locked && locked.status() == sdm::Status::Locked);
        CHECK(locked.error().response() && locked.error().response()->data == s1.unique_id());
        CHECK(sdm::to_string(locked.error().response()->code) == std::string("Locked"));
    }

    // Value through JSON.
    CHECK(s1.value() == R"({"Coins":0,"Items":{}})");
    s1.set_value(R"({"Coins":100,"Items":["Sword"]})");
    CHECK_THROWS(s1.set_value("{bad"), sdm::Status::InvalidJson, {});
    CHECK(s1.set_value(sdm::nothrow, "\"\xff\"").status() == sdm::Status::InvalidUtf8);
    s1.mutate([](std::string_view) { return std::optional<std::string>(); });
    int calls = 0;
    s1.mutate([&](std::string_view current) -> std::optional<std::string> {
        ++calls;
        CHECK(current == R"({"Coins":100,"Items":["Sword"]})");
        return std::string(R"({"Coins":60,"Items":["Sword"]})");
    });
    CHECK(calls == 1);
    CHECK_THROWS(s1.mutate([](std::string_view) { return std::optional<std::string>("{bad"); }),
                 sdm::Status::InvalidJson, {});
    bool rethrown = false;
    try {
        s1.mutate([](std::string_view) -> std::optional<std::string> { throw std::runtime_error("game bug"); });
    } catch (const std::runtime_error &e) {
        rethrown = std::string(e.what()) == "game bug";
    }
    CHECK(rethrown);
    sdm::Result<void> m = s1.mutate(sdm::nothrow, [](std::string_view) -> std::optional<std::string> {
        throw std::runtime_error("game bug");
    });
    CHECK(!m && m.status() == sdm::Status::Session && std::string(m.error().what()).find("game bug") != std::string::npos);
    CHECK(s1.clone() == R"({"Coins":60,"Items":["Sword"]})");
    s1.reconcile(R"({"Coins":5,"Level":1})");
    CHECK(s1.value() == R"({"Coins":60,"Items":["Sword"],"Level":1})");
    sdm::Usage u = s1.usage();
    CHECK(u.characters > 10 && u.fraction > 0 && u.fraction < 0.001);

    // Queue 40 coins from "another server"; ProcessQueue gets them and removes them.
    sdm::Session h2 = ctx.hidden("Players", "2");
    CHECK(h2.queue(R"({"Coins":40})").code == sdm::ResponseCode::Success);
    CHECK_THROWS(h2.queue("{oops"), sdm::Status::InvalidJson, {});
    CHECK_THROWS(h2.queue("1", sdm::QueueOptions{sdm::Seconds(1e9), std::nullopt}), sdm::Status::Session,
                 CHECK(e.response() && e.response()->code == sdm::ResponseCode::Error && !e.response()->data.empty()));
    CHECK(h2.queue(R"({"Coins":2})", sdm::QueueOptions{std::chrono::hours(1), 5.0}).ok());
    auto all_queued = [&] {
        return ev.locked([&] {
            std::string all;
            for (const std::string &batch : ev.queued) all += batch;
            return all;
        });
    };
    CHECK(wait_until([&] {
        std::string all = all_queued();
        return all.find(R"({"Coins":40})") != std::string::npos && all.find(R"({"Coins":2})") != std::string::npos;
    }));

    // Properties, with validation.
    CHECK_THROWS(s1.set_save_interval(5s), sdm::Status::InvalidProperty,
                 CHECK(std::string(e.what()).find("SaveInterval") != std::string::npos));
    s1.set_save_interval(20s);
    CHECK(s1.save_interval() == 20s);
    CHECK(s1.set_save_delay(sdm::nothrow, 11s).status() == sdm::Status::InvalidProperty);
    s1.set_save_delay(std::chrono::milliseconds(1500));
    CHECK(s1.save_delay().count() == 1.5);
    CHECK_THROWS(s1.set_lock_interval(9s), sdm::Status::InvalidProperty, {});
    s1.set_lock_interval(std::chrono::minutes(1));
    CHECK(s1.lock_interval() == 60s);
    CHECK_THROWS(s1.set_lock_attempts(0), sdm::Status::InvalidProperty,
                 CHECK(std::string(e.what()).find("LockAttempts") != std::string::npos));
    s1.set_lock_attempts(7);
    CHECK(s1.lock_attempts() == 7 && *s1.lock_attempts(sdm::nothrow) == 7);
    CHECK_THROWS(s1.set_queue_invisibility(-1s), sdm::Status::InvalidProperty, {});
    s1.set_queue_invisibility(30s);
    CHECK(s1.queue_invisibility() == 30s);
    CHECK(s1.save_on_close());
    s1.set_save_on_close(false);
    CHECK(!s1.save_on_close());
    s1.set_save_on_close(true);
    CHECK(!s1.skip_unchanged_autosaves());
    s1.set_skip_unchanged_autosaves(true);
    CHECK(s1.skip_unchanged_autosaves());
    s1.set_skip_unchanged_autosaves(false);
    CHECK(s1.user_ids().empty());
    s1.set_user_ids({42, 7});
    CHECK((s1.user_ids() == std::vector<std::int64_t>{42, 7}));
    CHECK_THROWS(s1.set_metadata("[1]"), sdm::Status::InvalidJson, {});
    s1.set_metadata(R"({"Note":"vip"})");
    CHECK(s1.metadata() == R"({"Note":"vip"})");
    CHECK(s1.key() == "1" && s1.id() == "Players/global/1");
    CHECK(s1.attempts_remaining() > 0);
    CHECK(s1.compressed_value().empty());

    // Save: response Saved with the value; events Saving and Saved.
    sdm::Response saved = s1.save();
    CHECK(saved.code == sdm::ResponseCode::Saved && saved.data == R"({"Coins":60,"Items":["Sword"],"Level":1})");
    CHECK(!s1.version().empty());
    CHECK(s1.created_time().time_since_epoch().count() > 0);
    CHECK(s1.updated_time() >= s1.created_time());
    CHECK(wait_until([&] { return ev.locked([&] { return !ev.saved.empty() && !ev.saving.empty(); }); }));
    CHECK(ev.locked([&] { return ev.saving[0] == saved.data && ev.saved[0].code == sdm::ResponseCode::Saved; }));

    // An atomic trade: both sessions written in one store step.
    {
        sdm::Session partner = ctx.session("Players", "trade-partner");
        CHECK(partner.open(R"({"Coins":0})").ok());
        sdm::Response traded = ctx.save_together({&s1, &partner});
        CHECK(traded.code == sdm::ResponseCode::Success);
        CHECK(ctx.save_together({}).code == sdm::ResponseCode::Success);
        CHECK_THROWS(ctx.save_together({&s1, nullptr}), sdm::Status::NullArgument, {});
        sdm::Response traded2 = ctx.trade({&s1, &partner}, [](std::string_view values) -> std::optional<std::string> {
            CHECK(values.front() == '[');
            return std::string(R"([{"Coins":1},{"Coins":2}])");
        });
        CHECK(traded2.code == sdm::ResponseCode::Success);
        CHECK(partner.value() == R"({"Coins":2})");
        partner.destroy();
    }

    // Compression through Metadata.Compress.
    s1.set_metadata(R"({"Compress":{"Level":2,"Decimals":3,"Safety":true}})");
    s1.save();
    CHECK(sdm::decompress(s1.compressed_value()) == s1.value());

    // Disconnect: the function is released and never called again.
    const std::size_t saving_before = ev.locked([&] { return ev.saving.size(); });
    c_saving.disconnect();
    c_saving.disconnect();  // again: nothing happens
    CHECK(!c_saving.connected());
    CHECK(entries() == base + 4);
    {
        sdm::ScopedConnection scoped = s1.on_saving([&ev](std::string_view) { ev.locked([&] { ev.saving.emplace_back("scoped"); }); });
        CHECK(scoped.connected() && entries() == base + 5);
        sdm::ScopedConnection moved = std::move(scoped);
        CHECK(moved.connected() && !scoped.get());
    }
    CHECK(entries() == base + 4);
    s1.save();
    CHECK(wait_until([&] { return ev.locked([&] { return ev.saved.size() >= 3; }); }));
    CHECK(ev.locked([&] { return ev.saving.size() == saving_before; }));

    // Close; Save on a closed session answers State.
    CHECK(s2.close().code == sdm::ResponseCode::Saved);
    CHECK_THROWS(s2.save(), sdm::Status::State,
                 CHECK(e.response() && e.response()->code == sdm::ResponseCode::State && e.response()->data == "Closed"));
    CHECK(h2.read().ok());
    CHECK(h2.value() == R"({"Coins":0,"Items":{}})");

    // The async forms, completions on the callback thread.
    {
        std::promise<sdm::Response> p[6];
        auto fulfil = [](std::promise<sdm::Response> &pr) { return [&pr](sdm::Response resp) { pr.set_value(std::move(resp)); }; };
        h2.queue_async(R"({"Coins":1})", fulfil(p[0]));
        CHECK_THROWS(h2.queue_async("[", fulfil(p[0])), sdm::Status::InvalidJson, {});
        h2.read_async(fulfil(p[1]));
        h2.remove_async("unknown-read-id", fulfil(p[2]));
        CHECK(h2.remove_async(sdm::nothrow, std::string_view("a\0b", 3), fulfil(p[2])).status() ==
              sdm::Status::InvalidArgument);
        s1.close_async(fulfil(p[3]));
        h1.destroy_async(fulfil(p[4]));
        s2.save_async(nullptr);  // no handler: fire and forget
        s2.open_async(R"({"Coins":0})", fulfil(p[5]));
        auto get = [](std::promise<sdm::Response> &pr) {
            auto f = pr.get_future();
            return f.wait_for(20s) == std::future_status::ready ? f.get() : sdm::Response{sdm::ResponseCode::Error, "timeout"};
        };
        CHECK(get(p[0]).code == sdm::ResponseCode::Success);
        CHECK(get(p[1]).code == sdm::ResponseCode::Success);
        (void)get(p[2]);
        CHECK(get(p[3]).code == sdm::ResponseCode::Saved);
        CHECK(get(p[4]).code == sdm::ResponseCode::Success);
        CHECK(get(p[5]).code == sdm::ResponseCode::Success);
        CHECK(h1.state() == sdm::State::Destroyed);
        CHECK_THROWS(h1.open(), sdm::Status::State, CHECK(e.response() && e.response()->data == "Destroyed"));
        CHECK(entries() == base + 4);  // every completion's state is gone
    }

    // An exception leaving a callback goes to the handler, not through C.
    {
        std::promise<std::string> caught;
        sdm::set_callback_exception_handler([&caught](std::exception_ptr e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception &ex) {
                caught.set_value(ex.what());
            }
        });
        s2.save_async([](sdm::Response) { throw std::logic_error("thrown in a completion"); });
        auto f = caught.get_future();
        CHECK(f.wait_for(20s) == std::future_status::ready && f.get() == "thrown in a completion");
        sdm::set_callback_exception_handler(nullptr);
    }

    // Destroying a session disconnects its listeners; the wrapper notices.
    CHECK(s1.destroy().ok());
    CHECK(!c_state.connected() && !c_saved.connected());
    ctx.shutdown();
    CHECK_THROWS(s2.save(), sdm::Status::Shutdown, {});
    CHECK(ev_alive.use_count() == 2);  // c_state's function lives until the context goes
    {
        sdm::Context gone = std::move(ctx);
    }
    CHECK(ev_alive.use_count() == 1);
    CHECK(entries() == base);
    // Sessions outlive their context: calls fail cleanly, nothing leaks.
    CHECK(s2.save_async(sdm::nothrow, [](sdm::Response) {}).status() == sdm::Status::Shutdown);
    CHECK(s2.on_saved(sdm::nothrow, [](sdm::Response) {}).status() == sdm::Status::Shutdown);
    CHECK(entries() == base);
}

void test_sweep_of_destroyed_listeners() {
    const std::size_t base = entries();
    sdm::Context ctx("memory://");
    auto alive = std::make_shared<int>(0);
    {
        sdm::Session doomed = ctx.session("Players", "doomed");
        for (int i = 0; i < 10; ++i) (void)doomed.on_state_changed([alive](sdm::State) {});
        doomed.destroy();
    }
    CHECK(alive.use_count() == 11);
    sdm::Session other = ctx.session("Players", "other");
    std::vector<sdm::ScopedConnection> conns;
    for (int i = 0; i < 100; ++i) conns.emplace_back(other.on_saving([](std::string_view) {}));
    CHECK(alive.use_count() == 1);  // found disconnected and freed while adding
    CHECK(entries() == base + 100);
    conns.clear();
    CHECK(entries() == base);
}

void test_dispatch_mode() {
    const std::size_t base = entries();
    sdm::ContextOptions opts;
    opts.events = sdm::EventsMode::Dispatch;
    sdm::Context ctx("memory://", opts);
    CHECK(ctx.events_mode() == sdm::EventsMode::Dispatch);
    const auto me = std::this_thread::get_id();
    int ran = 0, elsewhere = 0;
    auto note = [&] {
        ++ran;
        if (std::this_thread::get_id() != me) ++elsewhere;
    };
    sdm::Session s = ctx.session("Players", "d");
    sdm::ScopedConnection c1 = s.on_state_changed([&](sdm::State) { note(); });
    sdm::ScopedConnection c2 = s.on_saving([&](std::string_view v) {
        CHECK(!v.empty());
        note();
    });
    sdm::ScopedConnection c3 = s.on_saved([&](const sdm::Response &r) {
        CHECK(r.code == sdm::ResponseCode::Saved);
        note();
    });
    s.open(R"({"Coins":1})");  // StateChanged
    s.save();                  // Saving, Saved
    s.save_async([&](sdm::Response r) {
        CHECK(r.code == sdm::ResponseCode::Saved);
        note();
    });  // Saving, Saved, completion
    std::this_thread::sleep_for(200ms);
    CHECK(ran == 0);  // nothing runs outside dispatch
    CHECK(wait_until([&] { return ran >= 6; }, &ctx));
    // Disconnected in the wrapper: a Saving event already queued would not run either.
    s.set_value(R"({"Coins":2})");
    s.save();
    c2 = sdm::ScopedConnection();
    const int before = ran;
    CHECK(wait_until([&] { return ran >= before + 1; }, &ctx));  // Saved only
    std::this_thread::sleep_for(50ms);
    ctx.dispatch();
    CHECK(ran == before + 1);
    CHECK(elsewhere == 0);

    // Completions never dispatched are freed with the context (LSan checks).
    auto alive = std::make_shared<int>(0);
    s.save_async([alive](sdm::Response) {});
    s.read_async([alive](sdm::Response) {});
    CHECK(alive.use_count() == 3);
    ctx.shutdown();
    {
        sdm::Context gone = std::move(ctx);
    }
    CHECK(alive.use_count() == 1);
    c1.release();
    c3.release();
    CHECK(entries() == base);
}

void test_many_threads() {
    constexpr int threads = 8, saves = 10;
    sdm::Context ctx("memory://");
    std::atomic<int> done{0}, errors{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            try {
                sdm::Session s = ctx.session("Workers", "threads", "t" + std::to_string(t));
                s.open(R"({"n":0})");
                for (int i = 0; i < saves; ++i) {
                    s.set_value("{\"n\":" + std::to_string(i + 1) + "}");
                    s.save_async([&](sdm::Response r) {
                        if (r.code != sdm::ResponseCode::Saved) ++errors;
                        ++done;
                    });
                }
                s.save();
            } catch (const sdm::Error &e) {
                std::fprintf(stderr, "worker: %s\n", e.what());
                ++errors;
            }
        });
    }
    for (auto &w : workers) w.join();
    CHECK(wait_until([&] { return done.load() == threads * saves; }));
    CHECK(errors.load() == 0);
    ctx.shutdown();
}

}  // namespace

// Two contexts on one SQLite file (two servers): the holder of a Locked
// answer, a handoff deferred by a Deferral, close reasons, admin unlock.
void test_handoff() {
    char dir[] = "/tmp/sdm-cpp-hop-XXXXXX";
    CHECK(mkdtemp(dir) != nullptr);
    const std::string url = std::string("sqlite://") + dir + "/hop.db";
    {
        sdm::Context a_ctx(url), b_ctx(url);
        sdm::LivenessConfig cfg;
        cfg.handoff_defer_limit = 9s;
        a_ctx.set_liveness_config(cfg);
        CHECK(a_ctx.liveness_config().handoff_defer_limit == 9s);
        cfg.heartbeat_interval = 20s;
        CHECK_THROWS(a_ctx.set_liveness_config(cfg), sdm::Status::InvalidArgument, {});

        sdm::Session a = a_ctx.session("Players", "9");
        sdm::Session b = b_ctx.session("Players", "9");
        CHECK(a.close_reason() == sdm::CloseReason::None);
        a.open(R"({"Coins":1})");
        a.set_value(R"({"Coins":5})");

        std::optional<sdm::LockHolder> holder;
        CHECK_THROWS(b.open({}, holder), sdm::Status::Locked, {});
        CHECK(holder && holder->unique_id == a.unique_id() && holder->node_id == a_ctx.node_id() &&
              holder->has_node() && holder->live && holder->since_ms > 0 && holder->token == a.lock_token());

        std::mutex m;
        std::optional<sdm::Deferral> deferral;
        std::atomic<int> requests{0};
        std::chrono::milliseconds limit{0};
        sdm::ScopedConnection c = a.on_release_requested([&](sdm::ReleaseRequest &req) {
            std::lock_guard<std::mutex> lock(m);
            deferral = req.defer();
            limit = req.defer_limit();
            ++requests;
        });
        std::atomic<bool> released{false};
        std::thread releaser([&] {
            if (!wait_until([&] { return requests.load() > 0; })) return;
            std::this_thread::sleep_for(500ms);
            released = true;
            std::lock_guard<std::mutex> lock(m);
            deferral.reset();  // the Deferral's destructor lets the handoff proceed
        });
        b.set_open_wait(sdm::OpenWait{20s, true});
        CHECK(b.open_wait() && b.open_wait()->deadline == 20s && b.open_wait()->handoff);
        CHECK(b.open({}, holder).ok());
        CHECK(released.load());
        CHECK(!holder);
        releaser.join();
        CHECK(requests.load() == 1 && limit == 9s);
        CHECK(b.value() == R"({"Coins":5})");
        CHECK(a.state() == sdm::State::Closed && a.close_reason() == sdm::CloseReason::HandedOff);

        b_ctx.set_open_wait(sdm::OpenWait{1s, false});
        CHECK(b_ctx.open_wait() && b_ctx.open_wait()->deadline == 1s && !b_ctx.open_wait()->handoff);
        b.clear_open_wait();
        CHECK(b.open_wait() && b.open_wait()->deadline == 1s);

        const std::string locks = a_ctx.admin_locks("Players");
        CHECK(locks.find(b.unique_id()) != std::string::npos && locks.find("\"live\":true") != std::string::npos);
        std::optional<sdm::LockHolder> was = a_ctx.admin_unlock("Players", "9");
        CHECK(was && was->unique_id == b.unique_id());
        CHECK_THROWS(b.save(), sdm::Status::Fenced, {});
        CHECK(b.close_reason() == sdm::CloseReason::LockLost);
        CHECK(!a_ctx.admin_unlock("Players", "9"));
    }
    for (const char *suffix : {"", "-wal", "-shm"}) std::remove((std::string(dir) + "/hop.db" + suffix).c_str());
    rmdir(dir);
}

int main() {
    try {
        test_codec();
        test_context_errors();
        test_sessions();
        test_sweep_of_destroyed_listeners();
        test_dispatch_mode();
        test_many_threads();
        test_handoff();
    } catch (const sdm::Error &e) {
        std::fprintf(stderr, "test_sdm_cpp: unexpected sdm::Error %s: %s\n", sdm::to_string(e.status()), e.what());
        ++failures;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "test_sdm_cpp: unexpected exception: %s\n", e.what());
        ++failures;
    }
    if (sdm::detail::registry().size() != 0) {
        std::fprintf(stderr, "test_sdm_cpp: %zu callback entries left\n", sdm::detail::registry().size());
        ++failures;
    }
    if (failures) {
        std::fprintf(stderr, "test_sdm_cpp: %d failure(s)\n", failures);
        return 1;
    }
    std::printf("test_sdm_cpp: all checks passed\n");
    return 0;
}
