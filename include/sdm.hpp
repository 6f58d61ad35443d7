/*
 * sdm.hpp - C++17 API of sdm (Suphi's DataStore Module for native game
 * servers): a header-only wrapper over the C ABI in sdm.h.
 *
 * Link exactly as for sdm.h: libsdm.a with -lpthread -ldl -lm (or
 * libsdm.so); with CMake, `find_package(sdm CONFIG REQUIRED)` and link
 * `sdm::sdm`; with pkg-config, `pkg-config --cflags --libs sdm`.
 *
 * Design
 *  - Handles are RAII types. sdm::Context and sdm::Session own their C
 *    handle and are move-only (a moved-from handle is empty; calls on it fail
 *    with Status::NullArgument). Sessions are shared by the library, not by
 *    copying: every Context::session(name, key) for the same id gives a new
 *    handle to the same session. sdm::Connection is a copyable reference to a
 *    listener (like boost::signals2::connection); sdm::ScopedConnection is a
 *    move-only owner that disconnects on destruction.
 *  - Errors: every operation has a throwing form, which throws sdm::Error
 *    (the sdm_result as sdm::Status, the library's message, and the session
 *    response when the failure is one), and a non-throwing form taking the
 *    tag sdm::nothrow as its FIRST argument and returning sdm::Result<T>
 *    (a value or an sdm::Error, never thrown unless you call value()).
 *    Neither form throws anything else but std::bad_alloc (and mutate()
 *    rethrows what its function threw).
 *  - Text: arguments are std::string_view (copied to add the NUL the C API
 *    needs; a view holding a NUL byte fails with Status::InvalidArgument);
 *    results are std::string. Values, templates and Metadata are JSON text.
 *  - Callbacks are std::function. Their state is kept in a process-wide
 *    table keyed by a number; the C API only sees that number as user_data,
 *    so a late call (the C API may run an event already queued after a
 *    disconnect) finds nothing and does nothing. A completion's state is
 *    freed when it runs; a listener's when it is disconnected through the
 *    wrapper, when the wrapper finds it disconnected by the library (its
 *    session was destroyed; checked now and then as listeners are added, at
 *    amortised constant cost), or at the latest when its Context is
 *    destroyed (after sdm_context_free no callback runs any more, so what
 *    never ran is freed then).
 *  - Threads: every method may be called from any thread, and a handle may
 *    be used by several threads at once, but not while one of them moves or
 *    destroys it.
 *  - Callbacks run on the context's callback thread (EventsMode::Callback)
 *    or inside Context::dispatch() (EventsMode::Dispatch). An exception
 *    leaving a callback cannot cross the C library: it is caught and handed
 *    to the handler set with sdm::set_callback_exception_handler (by default
 *    its what() is printed to stderr).
 */
#ifndef SDM_HPP
#define SDM_HPP

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

// After the standard headers: an sdm.h generated before ffi/cbindgen.toml
// excluded `free` declares free() in a way that clashes with <cstdlib>
// included after it in C++.
#include "sdm.h"

/** The C++ API of sdm. */
namespace sdm {

/**
 * Status of a call: the C API's sdm_result, with the same stable numeric
 * values (Status::Ok is 0).
 */
enum class Status : std::uint32_t {
    Ok = SDM_OK,                                ///< Success.
    NullArgument = SDM_NULL_ARGUMENT,           ///< A needed handle was empty (e.g. moved-from).
    InvalidUtf8 = SDM_INVALID_UTF8,             ///< A text argument is not valid UTF-8.
    InvalidJson = SDM_INVALID_JSON,             ///< A JSON argument is not valid JSON (or too deep).
    Codec = SDM_CODEC,                          ///< The codec refused the value or compressed text.
    ContainsNul = SDM_CONTAINS_NUL,             ///< A compressed text holds a NUL (C API only).
    InvalidArgument = SDM_INVALID_ARGUMENT,     ///< An argument is out of range (or holds a NUL byte).
    InvalidProperty = SDM_INVALID_PROPERTY,     ///< A property value is out of its range.
    Locked = SDM_LOCKED,                        ///< Another server holds the lock (response Locked).
    State = SDM_STATE,                          ///< The session's state stopped it (response State).
    Store = SDM_STORE,                          ///< The store failed (response Error).
    Timeout = SDM_TIMEOUT,                      ///< The store did not answer in time (response Error).
    Shutdown = SDM_SHUTDOWN,                    ///< The context is shut down.
    NotFound = SDM_NOT_FOUND,                   ///< No such session (Context::find's nothrow form).
    UnsupportedStore = SDM_UNSUPPORTED_STORE,   ///< Malformed store URL or unknown kind of store.
    Session = SDM_SESSION,                      ///< The operation failed otherwise (response Error).
    Fenced = SDM_FENCED,                        ///< A write was refused by fencing (response Error).
    Panic = SDM_PANIC,                          ///< A bug in sdm caught at the boundary.
};

/** The name of a status, e.g. "Locked" (or "Unknown"). */
inline const char *to_string(Status status) noexcept {
    switch (status) {
    case Status::Ok: return "Ok";
    case Status::NullArgument: return "NullArgument";
    case Status::InvalidUtf8: return "InvalidUtf8";
    case Status::InvalidJson: return "InvalidJson";
    case Status::Codec: return "Codec";
    case Status::ContainsNul: return "ContainsNul";
    case Status::InvalidArgument: return "InvalidArgument";
    case Status::InvalidProperty: return "InvalidProperty";
    case Status::Locked: return "Locked";
    case Status::State: return "State";
    case Status::Store: return "Store";
    case Status::Timeout: return "Timeout";
    case Status::Shutdown: return "Shutdown";
    case Status::NotFound: return "NotFound";
    case Status::UnsupportedStore: return "UnsupportedStore";
    case Status::Session: return "Session";
    case Status::Fenced: return "Fenced";
    case Status::Panic: return "Panic";
    }
    return "Unknown";
}

/** The kind of a session operation's answer: the module's Response enum. */
enum class ResponseCode : std::uint32_t {
    Success = SDM_RESPONSE_SUCCESS,  ///< Done; no data.
    Saved = SDM_RESPONSE_SAVED,      ///< Saved; data is the saved value as JSON.
    Locked = SDM_RESPONSE_LOCKED,    ///< Another server holds the lock; data is its UniqueId.
    State = SDM_RESPONSE_STATE,      ///< The state stopped it; data names it ("Open", "Closing", ...).
    Error = SDM_RESPONSE_ERROR,      ///< It failed; data is the error message.
};

/** The module's name of a response code: "Success", "Saved", "Locked", "State" or "Error". */
inline const char *to_string(ResponseCode code) noexcept {
    switch (code) {
    case ResponseCode::Success: return "Success";
    case ResponseCode::Saved: return "Saved";
    case ResponseCode::Locked: return "Locked";
    case ResponseCode::State: return "State";
    case ResponseCode::Error: return "Error";
    }
    return "Unknown";
}

/** The answer of a session operation (the module's `response, responseData`). */
struct Response {
    /** What happened. */
    ResponseCode code = ResponseCode::Success;
    /** The data of the answer (see ResponseCode); empty for Success. */
    std::string data;

    /** True for Success and Saved. */
    bool ok() const noexcept { return code == ResponseCode::Success || code == ResponseCode::Saved; }
};

/** The state of a session (the module's State: true, false, nil). */
enum class State : std::uint32_t {
    Open = SDM_STATE_OPEN,            ///< Holds the lock and saves by itself.
    Closed = SDM_STATE_CLOSED,        ///< Closed (the initial state).
    Destroyed = SDM_STATE_DESTROYED,  ///< Destroyed: never opens again.
};

/** The name of a state: "Open", "Closed" or "Destroyed". */
inline const char *to_string(State state) noexcept {
    switch (state) {
    case State::Open: return "Open";
    case State::Closed: return "Closed";
    case State::Destroyed: return "Destroyed";
    }
    return "Unknown";
}

/** How a context delivers events and async completions. */
enum class EventsMode : std::uint32_t {
    /** On one library thread per context, in order (a callback may block). */
    Callback = SDM_EVENTS_CALLBACK,
    /** Only inside Context::dispatch(), on the thread calling it (game loops). */
    Dispatch = SDM_EVENTS_DISPATCH,
};

/** Seconds as a floating-point duration; any std::chrono duration converts to it. */
using Seconds = std::chrono::duration<double>;

/**
 * A failed call: the status, the library's message (what()) and, when the
 * failure is a session response (Locked, State, Error), that response.
 */
class Error : public std::runtime_error {
public:
    /** An error with a status, a message and optionally the session response. */
    Error(Status status, const std::string &message, std::optional<Response> response = std::nullopt)
        : std::runtime_error(message), status_(status),
          response_(response ? std::make_shared<const Response>(std::move(*response)) : nullptr) {}

    /** The status (never Status::Ok). */
    Status status() const noexcept { return status_; }
    /** The status as the C API's sdm_result. */
    sdm_result code() const noexcept { return static_cast<sdm_result>(status_); }
    /** The session response of the failure, or nullptr when it is not one. */
    const Response *response() const noexcept { return response_.get(); }

private:
    Status status_;
    std::shared_ptr<const Response> response_;
};

/** Tag type selecting the non-throwing overloads; use the value sdm::nothrow. */
struct nothrow_t {
    /** Not default-constructible from `{}`, like std::nothrow_t. */
    explicit constexpr nothrow_t() = default;
};
/** Pass as the first argument to call the non-throwing form of an operation. */
inline constexpr nothrow_t nothrow{};

/**
 * The outcome of a non-throwing call: a T, or the sdm::Error it failed with.
 * value() throws that Error; check ok() (or the bool conversion) first.
 */
template <class T>
class [[nodiscard]] Result {
public:
    /** A success holding `value`. */
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    /** A failure. */
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

    /** True on success. */
    bool ok() const noexcept { return v_.index() == 0; }
    /** True on success. */
    explicit operator bool() const noexcept { return ok(); }
    /** The status: Status::Ok on success. */
    Status status() const noexcept { return ok() ? Status::Ok : std::get<1>(v_).status(); }
    /** The failure; only valid when !ok(). */
    const Error &error() const { return std::get<1>(v_); }

    /** The value; throws the Error on failure. */
    T &value() & {
        if (!ok()) throw std::get<1>(v_);
        return std::get<0>(v_);
    }
    /** The value; throws the Error on failure. */
    const T &value() const & {
        if (!ok()) throw std::get<1>(v_);
        return std::get<0>(v_);
    }
    /** The value, moved out; throws the Error on failure. */
    T &&value() && {
        if (!ok()) throw std::get<1>(v_);
        return std::move(std::get<0>(v_));
    }
    /** The value, or `fallback` on failure. */
    template <class U>
    T value_or(U &&fallback) const & {
        return ok() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
    }
    /** The value (precondition: ok()). */
    T &operator*() & { return std::get<0>(v_); }
    /** The value (precondition: ok()). */
    const T &operator*() const & { return std::get<0>(v_); }
    /** The value, moved out (precondition: ok()). */
    T &&operator*() && { return std::move(std::get<0>(v_)); }
    /** Member access to the value (precondition: ok()). */
    T *operator->() { return &std::get<0>(v_); }
    /** Member access to the value (precondition: ok()). */
    const T *operator->() const { return &std::get<0>(v_); }

private:
    std::variant<T, Error> v_;
};

/** The outcome of a non-throwing call without a value: success, or an sdm::Error. */
template <>
class [[nodiscard]] Result<void> {
public:
    /** A success. */
    Result() = default;
    /** A failure. */
    Result(Error error) : error_(std::move(error)) {}

    /** True on success. */
    bool ok() const noexcept { return !error_; }
    /** True on success. */
    explicit operator bool() const noexcept { return ok(); }
    /** The status: Status::Ok on success. */
    Status status() const noexcept { return error_ ? error_->status() : Status::Ok; }
    /** The failure; only valid when !ok(). */
    const Error &error() const { return *error_; }
    /** Throws the Error on failure; does nothing on success. */
    void value() const {
        if (error_) throw *error_;
    }

private:
    std::optional<Error> error_;
};

/** Settings of a context. */
struct ContextOptions {
    /** How events and completions are delivered. */
    EventsMode events = EventsMode::Callback;
    /** Worker threads of the context's runtime, 1..=256; 0: the default (2). */
    std::uint32_t worker_threads = 0;
};

/** Compression settings: the module's Metadata.Compress {Level, Decimals, Safety}. */
struct CompressOptions {
    /** 1 (allows mixed tables) or 2 (compresses arrays better). */
    std::uint8_t level = 2;
    /** Decimal places kept, 0..=15. */
    std::uint32_t decimals = 3;
    /** Replace the DEL character in strings. */
    bool safety = true;
};

/** Optional arguments of Queue(value, expiration, priority). */
struct QueueOptions {
    /** How long the value stays queued (none: 7 days; at most 45 days). */
    std::optional<Seconds> expiration;
    /** Higher is read first (none: 0). */
    std::optional<double> priority;
};

/** The result of Usage(): the size a save would write. */
struct Usage {
    /** JSON characters. */
    std::size_t characters = 0;
    /** characters over the 4,194,303 limit (1.0 = 100%). */
    double fraction = 0.0;
};

/** Why a session last left Open (Session::close_reason()). */
enum class CloseReason : std::uint32_t {
    None = SDM_CLOSE_REASON_NONE,                             ///< It never left Open.
    Requested = SDM_CLOSE_REASON_REQUESTED,                   ///< Close or Destroy was called.
    AttemptsExhausted = SDM_CLOSE_REASON_ATTEMPTS_EXHAUSTED,  ///< Lock renewals failed LockAttempts times.
    LockLost = SDM_CLOSE_REASON_LOCK_LOST,                    ///< Another owner took the lock (nothing saved).
    HandedOff = SDM_CLOSE_REASON_HANDED_OFF,                  ///< Handed over on another server's request.
    Shutdown = SDM_CLOSE_REASON_SHUTDOWN,                     ///< The context shut down.
    Other = SDM_CLOSE_REASON_OTHER,                           ///< A reason newer than this header.
};

/**
 * How an Open treats a lock held by a live owner: wait up to `deadline`
 * for it and, with `handoff`, ask the owner's process to hand the session
 * over. A zero deadline answers Locked at once (the module's behaviour).
 */
struct OpenWait {
    /** The longest the Open waits (0: Locked at once). */
    std::chrono::milliseconds deadline{0};
    /** Ask the owner to hand over (its release-request listeners run, then it saves and closes). */
    bool handoff = true;
};

/** Who holds a session's lock (a Locked answer, an admin unlock). */
struct LockHolder {
    /** The UniqueId of the session holding it. */
    std::string unique_id;
    /** The fencing token of its acquisition. */
    std::uint64_t token = 0;
    /** The id of its server process (empty when the lock names none). */
    std::string node_id;
    /** The host name of that process (empty when none). */
    std::string host;
    /** The process id of that process (0 when none). */
    std::uint32_t pid = 0;
    /** Whether that process's heartbeat lives. */
    bool live = false;
    /** When it took the lock, in ms since the Unix epoch by the store's clock (0: unknown). */
    std::int64_t since_ms = 0;
    /** Whether the lock names its process. */
    bool has_node() const noexcept { return !node_id.empty(); }
};

/** How a context proves its process lives and hands sessions over (Context::set_liveness_config). */
struct LivenessConfig {
    /** The heartbeat's expiry in the store: how soon a dead process's keys can be taken over. */
    std::chrono::milliseconds heartbeat_ttl{10000};
    /** Time between heartbeats; less than the TTL. */
    std::chrono::milliseconds heartbeat_interval{3000};
    /** The longest release-request listeners may defer a handoff. */
    std::chrono::milliseconds handoff_defer_limit{10000};
    /** False turns heartbeats off (a dead owner's keys free when their locks expire). */
    bool enabled = true;
};

/** Completion of an async operation, and the Saved event. */
using ResponseHandler = std::function<void(Response)>;
/** Handler of exceptions that leave a callback (see set_callback_exception_handler). */
using ExceptionHandler = std::function<void(std::exception_ptr)>;

/** @cond internal */
namespace detail {

/** The failure of the C call that just returned `rc` on this thread. */
inline Error failure(sdm_result rc, std::optional<Response> response = std::nullopt) {
    return Error(static_cast<Status>(rc), sdm_last_error(), std::move(response));
}

/** A NUL-terminated copy of a string_view (optionally NULL when empty). */
class CStr {
public:
    explicit CStr(std::string_view v, bool empty_is_null = false)
        : s_(v), null_(empty_is_null && v.empty()), has_nul_(v.find('\0') != std::string_view::npos) {}
    const char *get() const noexcept { return null_ ? nullptr : s_.c_str(); }
    bool has_nul() const noexcept { return has_nul_; }

private:
    std::string s_;
    bool null_;
    bool has_nul_;
};

inline Error nul_error(const char *what) {
    return Error(Status::InvalidArgument, std::string(what) + " holds a NUL byte");
}

/** Takes a library-owned string into a std::string and frees it. */
inline std::string take(char *p, std::size_t len) {
    std::unique_ptr<char, void (*)(char *)> guard(p, sdm_string_free);
    return p ? std::string(p, len) : std::string();
}
inline std::string take(char *p) { return take(p, p ? std::strlen(p) : 0); }

/** Calls a C getter of a `char **`. */
template <class F>
Result<std::string> get_string(F f) {
    char *out = nullptr;
    sdm_result rc = f(&out);
    if (rc != SDM_OK) return failure(rc);
    return take(out);
}

/** Calls a C getter of a plain value. */
template <class T, class F>
Result<T> get_value(F f) {
    T out{};
    sdm_result rc = f(&out);
    if (rc != SDM_OK) return failure(rc);
    return out;
}

inline Result<void> check(sdm_result rc) {
    if (rc != SDM_OK) return failure(rc);
    return {};
}

/** Runs a blocking session operation filling an sdm_response. */
template <class F>
Result<Response> run(F f) {
    sdm_response out{};
    sdm_result rc = f(&out);
    std::unique_ptr<sdm_response, void (*)(sdm_response *)> guard(&out, sdm_response_clear);
    Response r;
    r.code = static_cast<ResponseCode>(out.code);
    if (out.data) r.data = out.data;
    if (rc == SDM_OK) return r;
    if (r.code == ResponseCode::Success) return failure(rc);  // an argument error, no response
    return failure(rc, std::move(r));
}

/**
 * The process-wide table of callback state. The C API gets an entry's key
 * as user_data; a call whose entry is gone does nothing. Never destroyed
 * (a callback thread may outlive static destruction).
 */
class Registry {
public:
    /** Adds an entry of context `ctx` holding `fn`; returns its key. */
    std::uint64_t add(std::uint64_t ctx, std::shared_ptr<void> fn, bool listener) {
        std::vector<Entry> garbage;
        std::lock_guard<std::mutex> lock(m_);
        std::uint64_t id = next_id_++;
        entries_.emplace(id, Entry{ctx, std::move(fn), nullptr, listener});
        if (listener && ++listeners_[ctx].live >= listeners_[ctx].sweep_at) {
            sweep_locked(ctx, garbage);
            Count &c = listeners_[ctx];  // looked up again: the sweep may erase counts
            c.sweep_at = 2 * c.live + 64;
        }
        return id;
    }

    /** Gives a listener entry its connection handle (owned from now on). */
    void attach(std::uint64_t id, sdm_connection *conn) {
        std::lock_guard<std::mutex> lock(m_);
        auto it = entries_.find(id);
        if (it != entries_.end())
            it->second.conn = conn;
        else
            sdm_connection_free(conn);
    }

    /** The callback of an entry (nullptr if gone), kept alive by the caller. */
    std::shared_ptr<void> get(std::uint64_t id) {
        std::lock_guard<std::mutex> lock(m_);
        auto it = entries_.find(id);
        return it == entries_.end() ? nullptr : it->second.fn;
    }

    /** Removes an entry and gives its callback (a completion runs once). */
    std::shared_ptr<void> take(std::uint64_t id) {
        Entry e;
        {
            std::lock_guard<std::mutex> lock(m_);
            auto it = entries_.find(id);
            if (it == entries_.end()) return nullptr;
            e = std::move(it->second);
            erase_locked(it);
        }
        sdm_connection_free(e.conn);
        return std::move(e.fn);
    }

    /** Removes an entry (and frees its connection handle). */
    void remove(std::uint64_t id) { (void)take(id); }

    /** Disconnects a listener and removes its entry; false if it was gone. */
    bool disconnect(std::uint64_t id) {
        Entry e;
        {
            std::lock_guard<std::mutex> lock(m_);
            auto it = entries_.find(id);
            if (it == entries_.end()) return false;
            if (it->second.conn) sdm_connection_disconnect(it->second.conn);
            e = std::move(it->second);
            erase_locked(it);
        }
        sdm_connection_free(e.conn);
        return true;
    }

    /** Whether a listener is still connected. */
    bool connected(std::uint64_t id) {
        std::lock_guard<std::mutex> lock(m_);
        auto it = entries_.find(id);
        if (it == entries_.end()) return false;
        return it->second.conn == nullptr || sdm_connection_is_connected(it->second.conn);
    }

    /** Removes every entry of a context (after sdm_context_free: none can run). */
    void remove_context(std::uint64_t ctx) {
        std::vector<Entry> garbage;
        {
            std::lock_guard<std::mutex> lock(m_);
            for (auto it = entries_.begin(); it != entries_.end();) {
                if (it->second.ctx == ctx) {
                    garbage.push_back(std::move(it->second));
                    it = entries_.erase(it);
                } else {
                    ++it;
                }
            }
            listeners_.erase(ctx);
        }
        for (Entry &e : garbage) sdm_connection_free(e.conn);
    }

    /** How many entries exist (tests). */
    std::size_t size() {
        std::lock_guard<std::mutex> lock(m_);
        return entries_.size();
    }

    /** A new context number. */
    std::uint64_t new_context() { return next_ctx_.fetch_add(1) + 1; }

    /** Sets the exception handler; returns the previous one. */
    ExceptionHandler set_handler(ExceptionHandler h) {
        std::lock_guard<std::mutex> lock(m_);
        std::swap(handler_, h);
        return h;
    }

    /** Reports an exception that left a callback (never throws). */
    void report(std::exception_ptr e) noexcept {
        try {
            ExceptionHandler h;
            {
                std::lock_guard<std::mutex> lock(m_);
                h = handler_;
            }
            if (h) {
                h(e);
                return;
            }
            try {
                std::rethrow_exception(e);
            } catch (const std::exception &ex) {
                std::fprintf(stderr, "sdm: exception left a callback: %s\n", ex.what());
            } catch (...) {
                std::fprintf(stderr, "sdm: exception left a callback\n");
            }
        } catch (...) {
        }
    }

private:
    struct Entry {
        std::uint64_t ctx = 0;
        std::shared_ptr<void> fn;
        sdm_connection *conn = nullptr;
        bool listener = false;
    };
    struct Count {
        std::size_t live = 0;
        std::size_t sweep_at = 64;
    };

    void erase_locked(std::unordered_map<std::uint64_t, Entry>::iterator it) {
        if (it->second.listener) {
            auto c = listeners_.find(it->second.ctx);
            if (c != listeners_.end() && --c->second.live == 0) listeners_.erase(c);
        }
        entries_.erase(it);
    }

    /** Drops the listeners of `ctx` that the library disconnected (destroyed session). */
    void sweep_locked(std::uint64_t ctx, std::vector<Entry> &garbage) {
        for (auto it = entries_.begin(); it != entries_.end();) {
            Entry &e = it->second;
            if (e.listener && e.ctx == ctx && e.conn && !sdm_connection_is_connected(e.conn)) {
                garbage.push_back(std::move(e));
                auto next = std::next(it);
                erase_locked(it);
                it = next;
            } else {
                ++it;
            }
        }
        for (Entry &g : garbage) {  // their functions are destroyed by the caller, unlocked
            sdm_connection_free(g.conn);
            g.conn = nullptr;
        }
    }

    std::mutex m_;
    std::unordered_map<std::uint64_t, Entry> entries_;
    std::unordered_map<std::uint64_t, Count> listeners_;
    std::uint64_t next_id_ = 1;
    std::atomic<std::uint64_t> next_ctx_{0};
    ExceptionHandler handler_;
};

inline Registry &registry() {
    static Registry *r = new Registry();  // intentionally never destroyed
    return *r;
}

inline void *key(std::uint64_t id) noexcept { return reinterpret_cast<void *>(static_cast<std::uintptr_t>(id)); }
inline std::uint64_t id_of(void *user_data) noexcept {
    return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(user_data));
}

inline Response make_response(sdm_response_code code, const char *data) {
    Response r;
    r.code = static_cast<ResponseCode>(code);
    if (data) r.data = data;
    return r;
}

/** Calls a listener's std::function of type F (if still registered). */
template <class F, class... A>
void call_listener(void *user_data, A &&...args) noexcept {
    try {
        std::shared_ptr<void> fn = registry().get(id_of(user_data));
        if (fn) (*static_cast<F *>(fn.get()))(std::forward<A>(args)...);
    } catch (...) {
        registry().report(std::current_exception());
    }
}

inline void on_completion(void *user_data, sdm_response_code code, const char *data) noexcept {
    try {
        std::shared_ptr<void> fn = registry().take(id_of(user_data));
        if (fn) (*static_cast<ResponseHandler *>(fn.get()))(make_response(code, data));
    } catch (...) {
        registry().report(std::current_exception());
    }
}

inline void on_state(void *user_data, sdm_state state) noexcept {
    call_listener<std::function<void(State)>>(user_data, static_cast<State>(state));
}
inline void on_text(void *user_data, const char *text) noexcept {
    call_listener<std::function<void(std::string_view)>>(user_data, std::string_view(text ? text : ""));
}
inline void on_saved(void *user_data, sdm_response_code code, const char *data) noexcept {
    try {
        std::shared_ptr<void> fn = registry().get(id_of(user_data));
        if (fn) (*static_cast<ResponseHandler *>(fn.get()))(make_response(code, data));
    } catch (...) {
        registry().report(std::current_exception());
    }
}
inline void on_attempts(void *user_data, std::uint32_t remaining) noexcept {
    call_listener<std::function<void(std::uint32_t)>>(user_data, remaining);
}
inline void on_queue(void *user_data, const char *read_id, const char *values) noexcept {
    call_listener<std::function<void(std::string_view, std::string_view)>>(
        user_data, std::string_view(read_id ? read_id : ""), std::string_view(values ? values : ""));
}

}  // namespace detail
/** @endcond */

/**
 * A deferred handoff (ReleaseRequest::defer()): the handoff waits while it
 * lives, at most the defer limit from the request. Move-only; destroying
 * it (or release()) lets the handoff proceed. May outlive the callback and
 * be destroyed on any thread.
 */
class Deferral {
public:
    /** Defers nothing. */
    Deferral() = default;
    Deferral(const Deferral &) = delete;
    Deferral &operator=(const Deferral &) = delete;
    /** Moves the deferral; `other` defers nothing afterwards. */
    Deferral(Deferral &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    /** Ends this deferral and takes over `other`'s. */
    Deferral &operator=(Deferral &&other) noexcept {
        if (this != &other) {
            sdm_deferral_free(raw_);
            raw_ = std::exchange(other.raw_, nullptr);
        }
        return *this;
    }
    /** Ends the deferral. */
    ~Deferral() { sdm_deferral_free(raw_); }
    /** Ends the deferral now (the handoff may proceed). */
    void release() noexcept { sdm_deferral_free(std::exchange(raw_, nullptr)); }
    /** Whether this still defers. */
    explicit operator bool() const noexcept { return raw_ != nullptr; }

private:
    friend class ReleaseRequest;
    explicit Deferral(sdm_deferral *raw) noexcept : raw_(raw) {}
    sdm_deferral *raw_ = nullptr;
};

/**
 * Another server's request to hand a session over, given to
 * Session::on_release_requested listeners; valid during the call only.
 */
class ReleaseRequest {
public:
    ReleaseRequest(const ReleaseRequest &) = delete;
    ReleaseRequest &operator=(const ReleaseRequest &) = delete;

    /** Defers the handoff while the returned Deferral lives (at most defer_limit()). */
    Deferral defer() { return defer(nothrow).value(); }
    /** Non-throwing defer(). */
    Result<Deferral> defer(nothrow_t) {
        sdm_deferral *d = nullptr;
        sdm_result rc = sdm_release_request_defer(raw_, &d);
        if (rc != SDM_OK) return detail::failure(rc);
        return Deferral(d);
    }
    /** The longest the handoff may be deferred. */
    std::chrono::milliseconds defer_limit() const noexcept {
        return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(sdm_release_request_defer_limit_ms(raw_)));
    }
    /** The C request (borrowed for the callback). */
    sdm_release_request *handle() const noexcept { return raw_; }

private:
    friend void detail_on_release(void *, sdm_release_request *) noexcept;
    explicit ReleaseRequest(sdm_release_request *raw) noexcept : raw_(raw) {}
    sdm_release_request *raw_;
};

/** A release-request listener. */
using ReleaseRequestHandler = std::function<void(ReleaseRequest &)>;

/** @cond internal */
inline void detail_on_release(void *user_data, sdm_release_request *request) noexcept {
    ReleaseRequest r(request);
    detail::call_listener<ReleaseRequestHandler>(user_data, r);
}

namespace detail {
/** Moves a filled sdm_lock_holder into a LockHolder and clears it. */
inline LockHolder take_holder(sdm_lock_holder &h) {
    std::unique_ptr<sdm_lock_holder, void (*)(sdm_lock_holder *)> guard(&h, sdm_lock_holder_clear);
    LockHolder out;
    if (h.unique_id) out.unique_id = h.unique_id;
    if (h.node_id) out.node_id = h.node_id;
    if (h.host) out.host = h.host;
    out.token = h.token;
    out.pid = h.pid;
    out.live = h.live;
    out.since_ms = h.since_ms;
    return out;
}
inline std::uint64_t ms(std::chrono::milliseconds d) noexcept {
    return d.count() > 0 ? static_cast<std::uint64_t>(d.count()) : 0;
}
inline std::chrono::milliseconds from_ms(std::uint64_t v) noexcept {
    return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(v));
}
inline std::optional<OpenWait> open_wait_of(std::uint64_t deadline, bool handoff) {
    if (deadline == 0) return std::nullopt;
    return OpenWait{from_ms(deadline), handoff};
}
}  // namespace detail
/** @endcond */

/**
 * Sets the handler of exceptions that leave a callback (events, async
 * completions): they cannot cross the C library, so they are caught and
 * passed here. An empty handler restores the default (print what() to
 * stderr). Returns the previous handler.
 */
inline ExceptionHandler set_callback_exception_handler(ExceptionHandler handler) {
    return detail::registry().set_handler(std::move(handler));
}

/** The library's version, e.g. "0.1.0". */
inline std::string_view version() noexcept { return sdm_version(); }

/** The message of the calling thread's most recent failed sdm call ("" after a success). */
inline std::string last_error() { return sdm_last_error(); }

/**
 * Compresses a JSON text into the module's compressed format, non-throwing
 * (failures: InvalidJson, InvalidUtf8, Codec). The result may hold DEL and
 * NUL bytes.
 */
inline Result<std::string> compress(nothrow_t, std::string_view json, CompressOptions options = {}) {
    detail::CStr j(json);
    if (j.has_nul()) return detail::nul_error("json");
    char *out = nullptr;
    std::size_t len = 0;
    sdm_result rc = sdm_compress_json_len(j.get(), options.level, options.decimals, options.safety, &out, &len);
    if (rc != SDM_OK) return detail::failure(rc);
    return detail::take(out, len);
}
/** Compresses a JSON text; throws sdm::Error on failure. */
inline std::string compress(std::string_view json, CompressOptions options = {}) {
    return compress(nothrow, json, options).value();
}

/**
 * Decompresses a compressed text (which may hold NUL bytes) into JSON text;
 * `decimals` must be the Decimals it was written with. The empty text is
 * `null`. Non-throwing (failures: Codec, InvalidUtf8).
 */
inline Result<std::string> decompress(nothrow_t, std::string_view text, std::uint32_t decimals = 3) {
    char *out = nullptr;
    sdm_result rc = sdm_decompress_json_len(text.data(), text.size(), decimals, &out);
    if (rc != SDM_OK) return detail::failure(rc);
    return detail::take(out);
}
/** Decompresses a compressed text; throws sdm::Error on failure. */
inline std::string decompress(std::string_view text, std::uint32_t decimals = 3) {
    return decompress(nothrow, text, decimals).value();
}

/**
 * A reference to a connected event listener (the module's RBXScriptConnection).
 * Copyable; copies refer to the same listener. Destroying it keeps the
 * listener connected (as in the module); call disconnect(), or hold it in a
 * ScopedConnection. An empty Connection (default-constructed) refers to none.
 */
class Connection {
public:
    /** Refers to no listener. */
    Connection() = default;

    /**
     * Disconnects the listener: after this returns its function is never
     * called again (a call already running on the callback thread finishes)
     * and its state is freed. Nothing happens if it already was.
     */
    void disconnect() noexcept {
        if (id_) detail::registry().disconnect(id_);
    }
    /** Whether the listener is still connected (false once its session is destroyed). */
    bool connected() const noexcept { return id_ && detail::registry().connected(id_); }
    /** Whether this refers to a listener at all. */
    explicit operator bool() const noexcept { return id_ != 0; }

private:
    friend class Session;
    explicit Connection(std::uint64_t id) : id_(id) {}
    std::uint64_t id_ = 0;
};

/** Owns a Connection and disconnects it when destroyed (move-only). */
class ScopedConnection {
public:
    /** Owns nothing. */
    ScopedConnection() = default;
    /** Takes over a connection. */
    ScopedConnection(Connection c) noexcept : c_(c) {}
    ScopedConnection(const ScopedConnection &) = delete;
    ScopedConnection &operator=(const ScopedConnection &) = delete;
    /** Moves ownership; `other` owns nothing afterwards. */
    ScopedConnection(ScopedConnection &&other) noexcept : c_(std::exchange(other.c_, Connection())) {}
    /** Disconnects what this owned and takes over `other`'s connection. */
    ScopedConnection &operator=(ScopedConnection &&other) noexcept {
        if (this != &other) {
            c_.disconnect();
            c_ = std::exchange(other.c_, Connection());
        }
        return *this;
    }
    /** Disconnects the listener. */
    ~ScopedConnection() { c_.disconnect(); }

    /** The connection owned. */
    const Connection &get() const noexcept { return c_; }
    /** Gives up ownership without disconnecting. */
    Connection release() noexcept { return std::exchange(c_, Connection()); }
    /** Whether the listener is still connected. */
    bool connected() const noexcept { return c_.connected(); }

private:
    Connection c_;
};

class Context;

/**
 * A handle to a session (the module's DataStore object). Move-only; it owns
 * an sdm_session handle, not the session: destroying the handle leaves the
 * session in its context until it is closed or destroyed (or the context
 * shuts down). Methods may be called from any thread.
 *
 * Operations (open, read, save, close, destroy, queue, remove) block the
 * calling thread; each has an `_async` form that returns at once and hands
 * the Response to a ResponseHandler on the context's callback thread or in
 * Context::dispatch(). Throwing forms throw sdm::Error for a Locked, State
 * or Error response (Error::response() holds it) and return the Response
 * for Success and Saved.
 */
class Session {
public:
    /** An empty handle (calls fail with Status::NullArgument). */
    Session() = default;
    Session(const Session &) = delete;
    Session &operator=(const Session &) = delete;
    /** Moves the handle; `other` is empty afterwards. */
    Session(Session &&other) noexcept
        : raw_(std::exchange(other.raw_, nullptr)), ctx_(std::exchange(other.ctx_, 0)) {}
    /** Releases this handle and takes over `other`'s. */
    Session &operator=(Session &&other) noexcept {
        if (this != &other) {
            sdm_session_free(raw_);
            raw_ = std::exchange(other.raw_, nullptr);
            ctx_ = std::exchange(other.ctx_, 0);
        }
        return *this;
    }
    /** Releases the handle (not the session). */
    ~Session() { sdm_session_free(raw_); }

    /** The C handle (still owned by this object), for calls into sdm.h. */
    sdm_session *handle() const noexcept { return raw_; }
    /** Whether this holds a handle. */
    explicit operator bool() const noexcept { return raw_ != nullptr; }

    // ---- operations -------------------------------------------------------

    /** Open(template): takes the lock and loads the value; `template_json` (JSON, empty: none) fills in what it lacks. */
    Response open(std::string_view template_json = {}) { return open(nothrow, template_json).value(); }
    /** Non-throwing Open(template). */
    Result<Response> open(nothrow_t, std::string_view template_json = {}) {
        return op_template(template_json, sdm_session_open);
    }
    /** Open() without blocking; `done` (may be empty) gets the response. */
    void open_async(ResponseHandler done) { open_async(nothrow, {}, std::move(done)).value(); }
    /** Open(template) without blocking. */
    void open_async(std::string_view template_json, ResponseHandler done) {
        open_async(nothrow, template_json, std::move(done)).value();
    }
    /** Non-throwing open_async (argument errors are returned, `done` is then not called). */
    Result<void> open_async(nothrow_t, std::string_view template_json, ResponseHandler done) {
        return async_template(template_json, std::move(done), sdm_session_open_async);
    }

    /** Read(template): loads the value without taking the lock. */
    Response read(std::string_view template_json = {}) { return read(nothrow, template_json).value(); }
    /** Non-throwing Read(template). */
    Result<Response> read(nothrow_t, std::string_view template_json = {}) {
        return op_template(template_json, sdm_session_read);
    }
    /** Read() without blocking. */
    void read_async(ResponseHandler done) { read_async(nothrow, {}, std::move(done)).value(); }
    /** Read(template) without blocking. */
    void read_async(std::string_view template_json, ResponseHandler done) {
        read_async(nothrow, template_json, std::move(done)).value();
    }
    /** Non-throwing read_async. */
    Result<void> read_async(nothrow_t, std::string_view template_json, ResponseHandler done) {
        return async_template(template_json, std::move(done), sdm_session_read_async);
    }

    /** Save(): writes the value now (response Saved with the value). */
    Response save() { return save(nothrow).value(); }
    /** Non-throwing Save(). */
    Result<Response> save(nothrow_t) { return op_plain(sdm_session_save); }
    /** Save() without blocking. */
    void save_async(ResponseHandler done) { save_async(nothrow, std::move(done)).value(); }
    /** Non-throwing save_async. */
    Result<void> save_async(nothrow_t, ResponseHandler done) {
        return async_plain(std::move(done), sdm_session_save_async);
    }

    /** Close(): saves if SaveOnClose and releases the lock. */
    Response close() { return close(nothrow).value(); }
    /** Non-throwing Close(). */
    Result<Response> close(nothrow_t) { return op_plain(sdm_session_close); }
    /** Close() without blocking. */
    void close_async(ResponseHandler done) { close_async(nothrow, std::move(done)).value(); }
    /** Non-throwing close_async. */
    Result<void> close_async(nothrow_t, ResponseHandler done) {
        return async_plain(std::move(done), sdm_session_close_async);
    }

    /** Destroy(): closes (saving if SaveOnClose), disconnects every listener; never opens again. */
    Response destroy() { return destroy(nothrow).value(); }
    /** Non-throwing Destroy(). */
    Result<Response> destroy(nothrow_t) { return op_plain(sdm_session_destroy); }
    /** Destroy() without blocking. */
    void destroy_async(ResponseHandler done) { destroy_async(nothrow, std::move(done)).value(); }
    /** Non-throwing destroy_async. */
    Result<void> destroy_async(nothrow_t, ResponseHandler done) {
        return async_plain(std::move(done), sdm_session_destroy_async);
    }

    /** Queue(value, expiration, priority): adds a JSON value to this key's queue (any state, no lock). */
    Response queue(std::string_view value_json, QueueOptions options = {}) {
        return queue(nothrow, value_json, options).value();
    }
    /** Non-throwing Queue(). */
    Result<Response> queue(nothrow_t, std::string_view value_json, QueueOptions options = {}) {
        detail::CStr v(value_json);
        if (v.has_nul()) return detail::nul_error("value_json");
        double secs = options.expiration ? options.expiration->count() : 0.0;
        double prio = options.priority.value_or(0.0);
        const double *e = options.expiration ? &secs : nullptr;
        const double *p = options.priority ? &prio : nullptr;
        return detail::run([&](sdm_response *out) { return sdm_session_queue(raw_, v.get(), e, p, out); });
    }
    /** Queue(value) without blocking. */
    void queue_async(std::string_view value_json, ResponseHandler done) {
        queue_async(nothrow, value_json, QueueOptions{}, std::move(done)).value();
    }
    /** Queue(value, expiration, priority) without blocking. */
    void queue_async(std::string_view value_json, QueueOptions options, ResponseHandler done) {
        queue_async(nothrow, value_json, options, std::move(done)).value();
    }
    /** Non-throwing queue_async. */
    Result<void> queue_async(nothrow_t, std::string_view value_json, QueueOptions options, ResponseHandler done) {
        detail::CStr v(value_json);
        if (v.has_nul()) return detail::nul_error("value_json");
        double secs = options.expiration ? options.expiration->count() : 0.0;
        double prio = options.priority.value_or(0.0);
        const double *e = options.expiration ? &secs : nullptr;
        const double *p = options.priority ? &prio : nullptr;
        return start(std::move(done), [&](sdm_completion_fn cb, void *ud) {
            return sdm_session_queue_async(raw_, v.get(), e, p, cb, ud);
        });
    }

    /** Remove(id): removes the queue values handed to ProcessQueue under `read_id`. */
    Response remove(std::string_view read_id) { return remove(nothrow, read_id).value(); }
    /** Non-throwing Remove(id). */
    Result<Response> remove(nothrow_t, std::string_view read_id) {
        detail::CStr id(read_id);
        if (id.has_nul()) return detail::nul_error("read_id");
        return detail::run([&](sdm_response *out) { return sdm_session_remove(raw_, id.get(), out); });
    }
    /** Remove(id) without blocking. */
    void remove_async(std::string_view read_id, ResponseHandler done) {
        remove_async(nothrow, read_id, std::move(done)).value();
    }
    /** Non-throwing remove_async. */
    Result<void> remove_async(nothrow_t, std::string_view read_id, ResponseHandler done) {
        detail::CStr id(read_id);
        if (id.has_nul()) return detail::nul_error("read_id");
        return start(std::move(done),
                     [&](sdm_completion_fn cb, void *ud) { return sdm_session_remove_async(raw_, id.get(), cb, ud); });
    }

    // ---- value ------------------------------------------------------------

    /** Value, as JSON text (`null` when nil). */
    std::string value() const { return value(nothrow).value(); }
    /** Non-throwing value(). */
    Result<std::string> value(nothrow_t) const {
        return detail::get_string([&](char **o) { return sdm_session_get_value_json(raw_, o); });
    }
    /** Sets Value from JSON text (`null` for nil); saved by the next save. */
    void set_value(std::string_view json) { set_value(nothrow, json).value(); }
    /** Non-throwing set_value(). */
    Result<void> set_value(nothrow_t, std::string_view json) {
        detail::CStr j(json);
        if (j.has_nul()) return detail::nul_error("json");
        return detail::check(sdm_session_set_value_json(raw_, j.get()));
    }
    /** Clone(): a deep copy of Value, as JSON text. */
    std::string clone() const { return clone(nothrow).value(); }
    /** Non-throwing clone(). */
    Result<std::string> clone(nothrow_t) const {
        return detail::get_string([&](char **o) { return sdm_session_clone_json(raw_, o); });
    }

    /**
     * Changes Value in place: `f(current_json)` runs on the calling thread
     * while the value is locked and returns std::nullopt to leave it, or the
     * new value's JSON. `f` must not call value methods of this session. An
     * exception from `f` leaves the value unchanged and is rethrown by the
     * throwing form (the non-throwing form returns it as Status::Session).
     */
    template <class F>
    void mutate(F &&f) {
        std::exception_ptr thrown;
        Result<void> r = mutate_impl(std::forward<F>(f), thrown);
        if (thrown) std::rethrow_exception(thrown);
        r.value();
    }
    /** Non-throwing mutate(). */
    template <class F>
    Result<void> mutate(nothrow_t, F &&f) {
        std::exception_ptr thrown;
        Result<void> r = mutate_impl(std::forward<F>(f), thrown);
        if (thrown) {
            std::string what = "the mutate function threw";
            try {
                std::rethrow_exception(thrown);
            } catch (const std::exception &e) {
                what += std::string(": ") + e.what();
            } catch (...) {
            }
            return Error(Status::Session, what);
        }
        return r;
    }

    /** Reconcile(template): fills in what Value lacks from a JSON template. */
    void reconcile(std::string_view template_json) { reconcile(nothrow, template_json).value(); }
    /** Non-throwing reconcile(). */
    Result<void> reconcile(nothrow_t, std::string_view template_json) {
        detail::CStr t(template_json);
        if (t.has_nul()) return detail::nul_error("template_json");
        return detail::check(sdm_session_reconcile_json(raw_, t.get()));
    }
    /** Usage(): the size a save would write. */
    Usage usage() const { return usage(nothrow).value(); }
    /** Non-throwing usage(). */
    Result<Usage> usage(nothrow_t) const {
        Usage u;
        sdm_result rc = sdm_session_usage(raw_, &u.characters, &u.fraction);
        if (rc != SDM_OK) return detail::failure(rc);
        return u;
    }

    // ---- properties -------------------------------------------------------

    /** SaveInterval: how often an open session saves by itself (default 30 s; 0 disables). */
    Seconds save_interval() const { return save_interval(nothrow).value(); }
    /** Non-throwing save_interval(). */
    Result<Seconds> save_interval(nothrow_t) const { return get_seconds(sdm_session_get_save_interval); }
    /** Sets SaveInterval (0, or 10..=1000 s; else Status::InvalidProperty and no change). */
    void set_save_interval(Seconds s) { set_save_interval(nothrow, s).value(); }
    /** Non-throwing set_save_interval(). */
    Result<void> set_save_interval(nothrow_t, Seconds s) {
        return detail::check(sdm_session_set_save_interval(raw_, s.count()));
    }

    /** SaveDelay: the least time between two saves (0..=10 s). */
    Seconds save_delay() const { return save_delay(nothrow).value(); }
    /** Non-throwing save_delay(). */
    Result<Seconds> save_delay(nothrow_t) const { return get_seconds(sdm_session_get_save_delay); }
    /** Sets SaveDelay (0..=10 s). */
    void set_save_delay(Seconds s) { set_save_delay(nothrow, s).value(); }
    /** Non-throwing set_save_delay(). */
    Result<void> set_save_delay(nothrow_t, Seconds s) {
        return detail::check(sdm_session_set_save_delay(raw_, s.count()));
    }

    /** LockInterval: how often the lock is renewed (10..=1000 s). */
    Seconds lock_interval() const { return lock_interval(nothrow).value(); }
    /** Non-throwing lock_interval(). */
    Result<Seconds> lock_interval(nothrow_t) const { return get_seconds(sdm_session_get_lock_interval); }
    /** Sets LockInterval (10..=1000 s). */
    void set_lock_interval(Seconds s) { set_lock_interval(nothrow, s).value(); }
    /** Non-throwing set_lock_interval(). */
    Result<void> set_lock_interval(nothrow_t, Seconds s) {
        return detail::check(sdm_session_set_lock_interval(raw_, s.count()));
    }

    /** QueueInvisibility: how long values handed to ProcessQueue stay invisible. */
    Seconds queue_invisibility() const { return queue_invisibility(nothrow).value(); }
    /** Non-throwing queue_invisibility(). */
    Result<Seconds> queue_invisibility(nothrow_t) const { return get_seconds(sdm_session_get_queue_invisibility); }
    /** Sets QueueInvisibility (a positive time). */
    void set_queue_invisibility(Seconds s) { set_queue_invisibility(nothrow, s).value(); }
    /** Non-throwing set_queue_invisibility(). */
    Result<void> set_queue_invisibility(nothrow_t, Seconds s) {
        return detail::check(sdm_session_set_queue_invisibility(raw_, s.count()));
    }

    /** LockAttempts: failed lock renewals tolerated before the session closes itself (1..=100). */
    std::uint32_t lock_attempts() const { return lock_attempts(nothrow).value(); }
    /** Non-throwing lock_attempts(). */
    Result<std::uint32_t> lock_attempts(nothrow_t) const {
        return detail::get_value<std::uint32_t>([&](std::uint32_t *o) { return sdm_session_get_lock_attempts(raw_, o); });
    }
    /** Sets LockAttempts (1..=100). */
    void set_lock_attempts(std::uint32_t n) { set_lock_attempts(nothrow, n).value(); }
    /** Non-throwing set_lock_attempts(). */
    Result<void> set_lock_attempts(nothrow_t, std::uint32_t n) {
        return detail::check(sdm_session_set_lock_attempts(raw_, n));
    }

    /** SaveOnClose: whether Close and Destroy save first (default true). */
    bool save_on_close() const { return save_on_close(nothrow).value(); }
    /** Non-throwing save_on_close(). */
    Result<bool> save_on_close(nothrow_t) const {
        return detail::get_value<bool>([&](bool *o) { return sdm_session_get_save_on_close(raw_, o); });
    }
    /** Sets SaveOnClose. */
    void set_save_on_close(bool on) { set_save_on_close(nothrow, on).value(); }
    /** Non-throwing set_save_on_close(). */
    Result<void> set_save_on_close(nothrow_t, bool on) {
        return detail::check(sdm_session_set_save_on_close(raw_, on));
    }
    /** Whether auto-saves with nothing to write are skipped (default false). */
    bool skip_unchanged_autosaves() const { return skip_unchanged_autosaves(nothrow).value(); }
    /** Non-throwing skip_unchanged_autosaves(). */
    Result<bool> skip_unchanged_autosaves(nothrow_t) const {
        return detail::get_value<bool>([&](bool *o) { return sdm_session_get_skip_unchanged_autosaves(raw_, o); });
    }
    /** Skips auto-saves with nothing to write (a caller's save always writes). */
    void set_skip_unchanged_autosaves(bool on) { set_skip_unchanged_autosaves(nothrow, on).value(); }
    /** Non-throwing set_skip_unchanged_autosaves(). */
    Result<void> set_skip_unchanged_autosaves(nothrow_t, bool on) {
        return detail::check(sdm_session_set_skip_unchanged_autosaves(raw_, on));
    }

    /** Metadata, as a JSON object. */
    std::string metadata() const { return metadata(nothrow).value(); }
    /** Non-throwing metadata(). */
    Result<std::string> metadata(nothrow_t) const {
        return detail::get_string([&](char **o) { return sdm_session_get_metadata_json(raw_, o); });
    }
    /**
     * Sets Metadata from a JSON object (saved by the next save);
     * `{"Compress":{"Level":2,"Decimals":3,"Safety":true}}` turns on compression.
     */
    void set_metadata(std::string_view json_object) { set_metadata(nothrow, json_object).value(); }
    /** Non-throwing set_metadata(). */
    Result<void> set_metadata(nothrow_t, std::string_view json_object) {
        detail::CStr j(json_object);
        if (j.has_nul()) return detail::nul_error("json");
        return detail::check(sdm_session_set_metadata_json(raw_, j.get()));
    }

    /** UserIds: the user ids associated with the key. */
    std::vector<std::int64_t> user_ids() const { return user_ids(nothrow).value(); }
    /** Non-throwing user_ids(). */
    Result<std::vector<std::int64_t>> user_ids(nothrow_t) const {
        std::vector<std::int64_t> ids;
        for (;;) {
            std::size_t count = 0;
            sdm_result rc = sdm_session_get_user_ids(raw_, ids.data(), ids.size(), &count);
            if (rc != SDM_OK) return detail::failure(rc);
            if (count <= ids.size()) {
                ids.resize(count);
                return ids;
            }
            ids.resize(count);  // grew meanwhile or first call: size and retry
        }
    }
    /** Sets UserIds. */
    void set_user_ids(const std::vector<std::int64_t> &ids) { set_user_ids(nothrow, ids).value(); }
    /** Non-throwing set_user_ids(). */
    Result<void> set_user_ids(nothrow_t, const std::vector<std::int64_t> &ids) {
        return detail::check(sdm_session_set_user_ids(raw_, ids.data(), ids.size()));
    }

    // ---- read-only facts --------------------------------------------------

    /** Id: "name/scope/key". */
    std::string id() const { return id(nothrow).value(); }
    /** Non-throwing id(). */
    Result<std::string> id(nothrow_t) const {
        return detail::get_string([&](char **o) { return sdm_session_get_id(raw_, o); });
    }
    /** UniqueId: the lock owner id other servers see. */
    std::string unique_id() const { return unique_id(nothrow).value(); }
    /** Non-throwing unique_id(). */
    Result<std::string> unique_id(nothrow_t) const {
        return detail::get_string([&](char **o) { return sdm_session_get_unique_id(raw_, o); });
    }
    /** Key. */
    std::string key() const { return key(nothrow).value(); }
    /** Non-throwing key(). */
    Result<std::string> key(nothrow_t) const {
        return detail::get_string([&](char **o) { return sdm_session_get_key(raw_, o); });
    }
    /** Version of the stored record last loaded or saved. */
    std::string version() const { return version(nothrow).value(); }
    /** Non-throwing version(). */
    Result<std::string> version(nothrow_t) const {
        return detail::get_string([&](char **o) { return sdm_session_get_version(raw_, o); });
    }
    /** CompressedValue: the compressed text of the last save when compression is on (else empty). */
    std::string compressed_value() const { return compressed_value(nothrow).value(); }
    /** Non-throwing compressed_value(). */
    Result<std::string> compressed_value(nothrow_t) const {
        return detail::get_string([&](char **o) { return sdm_session_get_compressed_value(raw_, o); });
    }
    /** Hidden: whether the session came from Context::hidden(). */
    bool hidden() const { return hidden(nothrow).value(); }
    /** Non-throwing hidden(). */
    Result<bool> hidden(nothrow_t) const {
        return detail::get_value<bool>([&](bool *o) { return sdm_session_get_hidden(raw_, o); });
    }
    /** State. */
    sdm::State state() const { return state(nothrow).value(); }
    /** Non-throwing state(). */
    Result<sdm::State> state(nothrow_t) const {
        sdm_state s{};
        sdm_result rc = sdm_session_get_state(raw_, &s);
        if (rc != SDM_OK) return detail::failure(rc);
        return static_cast<sdm::State>(s);
    }
    /** AttemptsRemaining: lock renewals left before the session closes itself. */
    std::uint32_t attempts_remaining() const { return attempts_remaining(nothrow).value(); }
    /** Non-throwing attempts_remaining(). */
    Result<std::uint32_t> attempts_remaining(nothrow_t) const {
        return detail::get_value<std::uint32_t>(
            [&](std::uint32_t *o) { return sdm_session_get_attempts_remaining(raw_, o); });
    }
    /** CreatedTime of the stored record (Unix epoch based, millisecond precision). */
    std::chrono::system_clock::time_point created_time() const { return created_time(nothrow).value(); }
    /** Non-throwing created_time(). */
    Result<std::chrono::system_clock::time_point> created_time(nothrow_t) const {
        return get_time(sdm_session_get_created_time);
    }
    /** UpdatedTime of the stored record (not updated while the session is open). */
    std::chrono::system_clock::time_point updated_time() const { return updated_time(nothrow).value(); }
    /** Non-throwing updated_time(). */
    Result<std::chrono::system_clock::time_point> updated_time(nothrow_t) const {
        return get_time(sdm_session_get_updated_time);
    }
    /**
     * LockToken, the fencing token: of the lock while open, of the last lock
     * after a close, 0 before the first open. Every acquisition of a key's
     * lock gets a larger one; fence the game's own side effects with it.
     */
    std::uint64_t lock_token() const { return lock_token(nothrow).value(); }
    /** Non-throwing lock_token(). */
    Result<std::uint64_t> lock_token(nothrow_t) const {
        return detail::get_value<std::uint64_t>([&](std::uint64_t *o) { return sdm_session_get_lock_token(raw_, o); });
    }

    /** Why the session last left Open (CloseReason::None if it never did). */
    CloseReason close_reason() const { return close_reason(nothrow).value(); }
    /** Non-throwing close_reason(). */
    Result<CloseReason> close_reason(nothrow_t) const {
        sdm_close_reason r{};
        sdm_result rc = sdm_session_get_close_reason(raw_, &r);
        if (rc != SDM_OK) return detail::failure(rc);
        return static_cast<CloseReason>(r);
    }

    // ---- server hops ------------------------------------------------------

    /**
     * Open(template), also telling who holds the lock: on a Locked answer
     * `holder` is set (then the throwing form throws Status::Locked), else
     * reset.
     */
    Response open(std::string_view template_json, std::optional<LockHolder> &holder) {
        return open(nothrow, template_json, holder).value();
    }
    /** Non-throwing open() with the holder. */
    Result<Response> open(nothrow_t, std::string_view template_json, std::optional<LockHolder> &holder) {
        holder.reset();
        detail::CStr t(template_json, true);
        if (t.has_nul()) return detail::nul_error("template_json");
        sdm_lock_holder h{};
        Result<Response> r =
            detail::run([&](sdm_response *out) { return sdm_session_open_ex(raw_, t.get(), out, &h); });
        if (h.unique_id) {
            holder = detail::take_holder(h);
        } else {
            sdm_lock_holder_clear(&h);
        }
        return r;
    }
    /**
     * Sets how Opens of this session treat a lock held by a live owner
     * (overriding the context's): wait up to `wait.deadline`, asking for a
     * handoff when `wait.handoff`; a zero deadline answers Locked at once.
     */
    void set_open_wait(OpenWait wait) { set_open_wait(nothrow, wait).value(); }
    /** Non-throwing set_open_wait(). */
    Result<void> set_open_wait(nothrow_t, OpenWait wait) {
        return detail::check(sdm_session_set_open_wait(raw_, detail::ms(wait.deadline), wait.handoff));
    }
    /** Forgets this session's own open wait: the context's applies. */
    void clear_open_wait() { clear_open_wait(nothrow).value(); }
    /** Non-throwing clear_open_wait(). */
    Result<void> clear_open_wait(nothrow_t) { return detail::check(sdm_session_clear_open_wait(raw_)); }
    /** The open wait an Open of this session uses (std::nullopt: Locked at once). */
    std::optional<OpenWait> open_wait() const { return open_wait(nothrow).value(); }
    /** Non-throwing open_wait(). */
    Result<std::optional<OpenWait>> open_wait(nothrow_t) const {
        std::uint64_t deadline = 0;
        bool handoff = false;
        sdm_result rc = sdm_session_get_open_wait(raw_, &deadline, &handoff);
        if (rc != SDM_OK) return detail::failure(rc);
        return detail::open_wait_of(deadline, handoff);
    }

    // ---- events -----------------------------------------------------------

    /** StateChanged: `f(state)` after every state change. */
    Connection on_state_changed(std::function<void(sdm::State)> f) { return on_state_changed(nothrow, std::move(f)).value(); }
    /** Non-throwing on_state_changed(). */
    Result<Connection> on_state_changed(nothrow_t, std::function<void(sdm::State)> f) {
        return listen(std::move(f), sdm_session_on_state_changed, &detail::on_state);
    }
    /** Saving: `f(value_json)` just before each save (the text is valid during the call). */
    Connection on_saving(std::function<void(std::string_view)> f) { return on_saving(nothrow, std::move(f)).value(); }
    /** Non-throwing on_saving(). */
    Result<Connection> on_saving(nothrow_t, std::function<void(std::string_view)> f) {
        return listen(std::move(f), sdm_session_on_saving, &detail::on_text);
    }
    /** Saved: `f(response)` after every save attempt. */
    Connection on_saved(ResponseHandler f) { return on_saved(nothrow, std::move(f)).value(); }
    /** Non-throwing on_saved(). */
    Result<Connection> on_saved(nothrow_t, ResponseHandler f) {
        return listen(std::move(f), sdm_session_on_saved, &detail::on_saved);
    }
    /** AttemptsChanged: `f(attempts_remaining)` when a lock renewal changes it. */
    Connection on_attempts_changed(std::function<void(std::uint32_t)> f) {
        return on_attempts_changed(nothrow, std::move(f)).value();
    }
    /** Non-throwing on_attempts_changed(). */
    Result<Connection> on_attempts_changed(nothrow_t, std::function<void(std::uint32_t)> f) {
        return listen(std::move(f), sdm_session_on_attempts_changed, &detail::on_attempts);
    }
    /**
     * ProcessQueue: `f(read_id, values_json)` with queued values (a JSON
     * array) while the session is open; call remove(read_id) once applied.
     * The texts are valid during the call.
     */
    Connection on_process_queue(std::function<void(std::string_view, std::string_view)> f) {
        return on_process_queue(nothrow, std::move(f)).value();
    }
    /** Non-throwing on_process_queue(). */
    Result<Connection> on_process_queue(nothrow_t, std::function<void(std::string_view, std::string_view)> f) {
        return listen(std::move(f), sdm_session_on_process_queue, &detail::on_queue);
    }
    /**
     * ReleaseRequested: `f(request)` when another server's Open with a
     * handoff wait asks for this open session; the session then saves,
     * releases and closes (CloseReason::HandedOff) once `f` has returned
     * and every Deferral from request.defer() is gone (at most the defer
     * limit).
     */
    Connection on_release_requested(ReleaseRequestHandler f) {
        return on_release_requested(nothrow, std::move(f)).value();
    }
    /** Non-throwing on_release_requested(). */
    Result<Connection> on_release_requested(nothrow_t, ReleaseRequestHandler f) {
        return listen(std::move(f), sdm_session_on_release_requested, &detail_on_release);
    }

private:
    friend class Context;
    Session(sdm_session *raw, std::uint64_t ctx) noexcept : raw_(raw), ctx_(ctx) {}

    template <class F>
    Result<Response> op_template(std::string_view template_json, F c_fn) {
        detail::CStr t(template_json, true);
        if (t.has_nul()) return detail::nul_error("template_json");
        return detail::run([&](sdm_response *out) { return c_fn(raw_, t.get(), out); });
    }
    template <class F>
    Result<Response> op_plain(F c_fn) {
        return detail::run([&](sdm_response *out) { return c_fn(raw_, out); });
    }
    /** Registers `done` and calls `c_call(callback, user_data)`; unregisters on failure. */
    template <class F>
    Result<void> start(ResponseHandler done, F c_call) {
        if (!done) return detail::check(c_call(nullptr, nullptr));
        auto fn = std::make_shared<ResponseHandler>(std::move(done));
        std::uint64_t id = detail::registry().add(ctx_, std::move(fn), false);
        sdm_result rc = c_call(&detail::on_completion, detail::key(id));
        if (rc != SDM_OK) {
            Error e = detail::failure(rc);
            detail::registry().remove(id);
            return e;
        }
        return {};
    }
    template <class F>
    Result<void> async_template(std::string_view template_json, ResponseHandler done, F c_fn) {
        detail::CStr t(template_json, true);
        if (t.has_nul()) return detail::nul_error("template_json");
        return start(std::move(done), [&](sdm_completion_fn cb, void *ud) { return c_fn(raw_, t.get(), cb, ud); });
    }
    template <class F>
    Result<void> async_plain(ResponseHandler done, F c_fn) {
        return start(std::move(done), [&](sdm_completion_fn cb, void *ud) { return c_fn(raw_, cb, ud); });
    }
    template <class Fn, class C, class T>
    Result<Connection> listen(Fn f, C c_connect, T trampoline) {
        if (!f) return Error(Status::NullArgument, "the listener function is empty");
        std::uint64_t id = detail::registry().add(ctx_, std::make_shared<Fn>(std::move(f)), true);
        sdm_connection *conn = nullptr;
        sdm_result rc = c_connect(raw_, trampoline, detail::key(id), &conn);
        if (rc != SDM_OK) {
            Error e = detail::failure(rc);
            detail::registry().remove(id);
            return e;
        }
        detail::registry().attach(id, conn);
        return Connection(id);
    }
    template <class F>
    Result<Seconds> get_seconds(F c_fn) const {
        double s = 0;
        sdm_result rc = c_fn(raw_, &s);
        if (rc != SDM_OK) return detail::failure(rc);
        return Seconds(s);
    }
    template <class F>
    Result<std::chrono::system_clock::time_point> get_time(F c_fn) const {
        std::int64_t ms = 0;
        sdm_result rc = c_fn(raw_, &ms);
        if (rc != SDM_OK) return detail::failure(rc);
        return std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::milliseconds(ms)));
    }

    template <class F>
    struct Mutation {
        F *f;
        std::exception_ptr *thrown;
    };
    template <class F>
    static char *mutate_trampoline(void *user_data, const char *current) noexcept {
        auto *m = static_cast<Mutation<F> *>(user_data);
        try {
            std::optional<std::string> next = (*m->f)(std::string_view(current ? current : ""));
            if (!next) return nullptr;
            if (next->find('\0') != std::string::npos) throw detail::nul_error("the mutated value");
            char *copy = static_cast<char *>(std::malloc(next->size() + 1));
            if (!copy) throw std::bad_alloc();
            std::memcpy(copy, next->c_str(), next->size() + 1);
            return copy;
        } catch (...) {
            *m->thrown = std::current_exception();
            return nullptr;
        }
    }
    template <class F>
    Result<void> mutate_impl(F &&f, std::exception_ptr &thrown) {
        using Fn = std::remove_reference_t<F>;
        Mutation<Fn> m{&f, &thrown};
        return detail::check(sdm_session_mutate_json(raw_, &mutate_trampoline<Fn>, &m));
    }

    sdm_session *raw_ = nullptr;
    std::uint64_t ctx_ = 0;
};

/**
 * A context (the module itself, per store): the runtime, the store
 * connection, the session registry and the delivery of events. Move-only.
 * Destroying it shuts it down (saving and releasing every session, like
 * the module's bind-to-close), stops event delivery and frees every
 * callback's state. In callback mode the destructor waits for the callback
 * thread, so do not destroy a context while holding a lock its callbacks
 * take, nor from inside one of its callbacks.
 */
class Context {
public:
    /**
     * Opens a context on `store_url`: empty for the embedded default
     * (`sqlite://sdm.db` in the working directory), `sqlite://path.db`,
     * `sqlite:///abs/path.db`, `redis://[user:password@]host:port/db`,
     * `rediss://...` or `memory://` (tests). Throws sdm::Error.
     */
    explicit Context(std::string_view store_url = {}, ContextOptions options = {}) {
        create(nothrow, store_url, options).value().swap(*this);
    }
    /** Non-throwing construction: a Context or the Error. */
    static Result<Context> create(nothrow_t, std::string_view store_url = {}, ContextOptions options = {}) {
        detail::CStr url(store_url, true);
        if (url.has_nul()) return detail::nul_error("store_url");
        sdm_context_options o = sdm_context_options_default();
        o.events = static_cast<std::uint32_t>(options.events);
        o.worker_threads = options.worker_threads;
        sdm_context *raw = nullptr;
        sdm_result rc = sdm_context_new(url.get(), &o, &raw);
        if (rc != SDM_OK) return detail::failure(rc);
        return Context(raw);
    }
    Context(const Context &) = delete;
    Context &operator=(const Context &) = delete;
    /** Moves the context; `other` is empty afterwards. */
    Context(Context &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)), id_(std::exchange(other.id_, 0)) {}
    /** Destroys this context and takes over `other`'s. */
    Context &operator=(Context &&other) noexcept {
        if (this != &other) {
            reset();
            raw_ = std::exchange(other.raw_, nullptr);
            id_ = std::exchange(other.id_, 0);
        }
        return *this;
    }
    /** Shuts down (if not done) and frees the context and its callbacks' state. */
    ~Context() { reset(); }

    /** Swaps two contexts. */
    void swap(Context &other) noexcept {
        std::swap(raw_, other.raw_);
        std::swap(id_, other.id_);
    }
    /** The C handle (still owned by this object), for calls into sdm.h. */
    sdm_context *handle() const noexcept { return raw_; }
    /** Whether this holds a context. */
    explicit operator bool() const noexcept { return raw_ != nullptr; }

    /** new(name, key): the session for name/global/key, created Closed if this context has none. */
    Session session(std::string_view name, std::string_view key) { return session(nothrow, name, {}, key).value(); }
    /** new(name, scope, key). */
    Session session(std::string_view name, std::string_view scope, std::string_view key) {
        return session(nothrow, name, scope, key).value();
    }
    /** Non-throwing new(name, scope, key); an empty scope is "global". */
    Result<Session> session(nothrow_t, std::string_view name, std::string_view scope, std::string_view key) {
        return lookup(name, scope, key, sdm_session_new);
    }

    /** hidden(name, key): a new session that new() and find() never return. */
    Session hidden(std::string_view name, std::string_view key) { return hidden(nothrow, name, {}, key).value(); }
    /** hidden(name, scope, key). */
    Session hidden(std::string_view name, std::string_view scope, std::string_view key) {
        return hidden(nothrow, name, scope, key).value();
    }
    /** Non-throwing hidden(name, scope, key). */
    Result<Session> hidden(nothrow_t, std::string_view name, std::string_view scope, std::string_view key) {
        return lookup(name, scope, key, sdm_session_hidden);
    }

    /** find(name, key): the registered session, or std::nullopt. */
    std::optional<Session> find(std::string_view name, std::string_view key) {
        return find(name, {}, key);
    }
    /** find(name, scope, key): the registered session, or std::nullopt. */
    std::optional<Session> find(std::string_view name, std::string_view scope, std::string_view key) {
        Result<Session> r = find(nothrow, name, scope, key);
        if (r.status() == Status::NotFound) return std::nullopt;
        return std::move(r).value();
    }
    /** Non-throwing find(name, scope, key): Status::NotFound when there is none. */
    Result<Session> find(nothrow_t, std::string_view name, std::string_view scope, std::string_view key) {
        return lookup(name, scope, key, sdm_session_find);
    }

    /**
     * Saves several open sessions of this context in one atomic, fenced
     * store step (an atomic trade): all are written or none is. Response
     * Success when all were saved; a `State` or `Error` response (nothing
     * written) otherwise. Lets go of the save hold of a ProcessQueue
     * callback running on this thread.
     */
    Response save_together(std::initializer_list<const Session *> sessions) {
        return save_together(nothrow, sessions).value();
    }
    /**
     * An atomic trade: `change(values_json)` runs on this thread with the
     * sessions' values as one JSON array (in the order given) while their
     * saves wait, and returns the new values (a JSON array of as many) or
     * std::nullopt to decline. The new values are saved together in one
     * atomic, fenced store step; if that does not answer Success, the
     * values are put back. A declined trade answers an Error response
     * (nothing changed). An exception thrown by `change` is rethrown
     * (nothing changed).
     */
    template <class F>
    Response trade(std::initializer_list<const Session *> sessions, F &&change) {
        using Fn = std::remove_reference_t<F>;
        std::exception_ptr thrown;
        Session::Mutation<Fn> m{&change, &thrown};
        std::vector<sdm_session *> raw;
        raw.reserve(sessions.size());
        for (const Session *s : sessions) raw.push_back(s ? s->handle() : nullptr);
        Result<Response> r = detail::run([&](sdm_response *out) {
            return sdm_context_trade(raw_, raw.data(), raw.size(), &Session::mutate_trampoline<Fn>, &m, out);
        });
        if (thrown) std::rethrow_exception(thrown);
        return r.value();
    }
    /** Non-throwing save_together. */
    Result<Response> save_together(nothrow_t, std::initializer_list<const Session *> sessions) {
        std::vector<sdm_session *> raw;
        raw.reserve(sessions.size());
        for (const Session *s : sessions) raw.push_back(s ? s->handle() : nullptr);
        return detail::run([&](sdm_response *out) {
            return sdm_context_save_together(raw_, raw.data(), raw.size(), out);
        });
    }

    /**
     * Shuts down (bind to close): destroys every session (saving those with
     * SaveOnClose, releasing their locks) and returns when all are done.
     * Later operations fail with Status::Shutdown; a second call too.
     */
    void shutdown() { shutdown(nothrow).value(); }
    /** Non-throwing shutdown(). */
    Result<void> shutdown(nothrow_t) { return detail::check(sdm_context_shutdown(raw_)); }

    /** Callbacks waiting for the next dispatch() (0 in callback mode). */
    std::size_t pending_events() const noexcept { return sdm_context_pending_events(raw_); }
    /**
     * Runs the callbacks queued for a dispatch-mode context on this thread
     * (those queued before the call); returns how many ran (0 in callback mode).
     */
    std::size_t dispatch() noexcept { return sdm_context_dispatch(raw_); }
    /** The events mode. */
    EventsMode events_mode() const noexcept { return static_cast<EventsMode>(sdm_context_events_mode(raw_)); }

    // ---- liveness, server hops and admin -----------------------------------

    /** Sets the liveness settings (before the first Open); Status::InvalidArgument for a bad TTL/interval. */
    void set_liveness_config(const LivenessConfig &config) { set_liveness_config(nothrow, config).value(); }
    /** Non-throwing set_liveness_config(). */
    Result<void> set_liveness_config(nothrow_t, const LivenessConfig &config) {
        sdm_liveness_config c = sdm_liveness_config_default();
        c.heartbeat_ttl_ms = detail::ms(config.heartbeat_ttl);
        c.heartbeat_interval_ms = detail::ms(config.heartbeat_interval);
        c.handoff_defer_limit_ms = detail::ms(config.handoff_defer_limit);
        c.enabled = config.enabled;
        return detail::check(sdm_context_set_liveness_config(raw_, &c));
    }
    /** The liveness settings. */
    LivenessConfig liveness_config() const { return liveness_config(nothrow).value(); }
    /** Non-throwing liveness_config(). */
    Result<LivenessConfig> liveness_config(nothrow_t) const {
        sdm_liveness_config c{};
        sdm_result rc = sdm_context_get_liveness_config(raw_, &c);
        if (rc != SDM_OK) return detail::failure(rc);
        return LivenessConfig{detail::from_ms(c.heartbeat_ttl_ms), detail::from_ms(c.heartbeat_interval_ms),
                              detail::from_ms(c.handoff_defer_limit_ms), c.enabled};
    }
    /** Sets how Opens of this context's sessions treat a live owner's lock (zero deadline: Locked at once). */
    void set_open_wait(OpenWait wait) { set_open_wait(nothrow, wait).value(); }
    /** Non-throwing set_open_wait(). */
    Result<void> set_open_wait(nothrow_t, OpenWait wait) {
        return detail::check(sdm_context_set_open_wait(raw_, detail::ms(wait.deadline), wait.handoff));
    }
    /** The context's open wait (std::nullopt: Locked at once). */
    std::optional<OpenWait> open_wait() const { return open_wait(nothrow).value(); }
    /** Non-throwing open_wait(). */
    Result<std::optional<OpenWait>> open_wait(nothrow_t) const {
        std::uint64_t deadline = 0;
        bool handoff = false;
        sdm_result rc = sdm_context_get_open_wait(raw_, &deadline, &handoff);
        if (rc != SDM_OK) return detail::failure(rc);
        return detail::open_wait_of(deadline, handoff);
    }
    /** This process's node id (named by every lock this context's sessions take). */
    std::string node_id() const { return node_id(nothrow).value(); }
    /** Non-throwing node_id(). */
    Result<std::string> node_id(nothrow_t) const {
        return detail::get_string([&](char **o) { return sdm_context_get_node_id(raw_, o); });
    }
    /**
     * Admin: every held lock on the store (of data store `name` only, when
     * not empty) as a JSON array of {id, name, scope, key, owner, token,
     * node, host, pid, live, since_ms}.
     */
    std::string admin_locks(std::string_view name = {}) { return admin_locks(nothrow, name).value(); }
    /** Non-throwing admin_locks(). */
    Result<std::string> admin_locks(nothrow_t, std::string_view name = {}) {
        detail::CStr n(name, true);
        if (n.has_nul()) return detail::nul_error("name");
        return detail::get_string([&](char **o) { return sdm_admin_locks(raw_, n.get(), o); });
    }
    /** Admin: frees name/global/key's lock whoever holds it (fencing it); who held it, if anybody. */
    std::optional<LockHolder> admin_unlock(std::string_view name, std::string_view key) {
        return admin_unlock(nothrow, name, {}, key).value();
    }
    /** Admin: frees name/scope/key's lock whoever holds it (fencing it); who held it, if anybody. */
    std::optional<LockHolder> admin_unlock(std::string_view name, std::string_view scope, std::string_view key) {
        return admin_unlock(nothrow, name, scope, key).value();
    }
    /** Non-throwing admin_unlock(); an empty scope is "global". */
    Result<std::optional<LockHolder>> admin_unlock(nothrow_t, std::string_view name, std::string_view scope,
                                                   std::string_view key) {
        detail::CStr n(name), s(scope, true), k(key);
        if (n.has_nul()) return detail::nul_error("name");
        if (s.has_nul()) return detail::nul_error("scope");
        if (k.has_nul()) return detail::nul_error("key");
        bool was_held = false;
        sdm_lock_holder h{};
        sdm_result rc = sdm_admin_unlock(raw_, n.get(), s.get(), k.get(), &was_held, &h);
        if (rc != SDM_OK) return detail::failure(rc);
        if (!was_held) return std::optional<LockHolder>();
        return std::optional<LockHolder>(detail::take_holder(h));
    }

private:
    explicit Context(sdm_context *raw) noexcept : raw_(raw), id_(detail::registry().new_context()) {}

    void reset() noexcept {
        if (raw_) {
            sdm_context_free(raw_);  // after this, no callback of this context runs
            raw_ = nullptr;
        }
        if (id_) detail::registry().remove_context(std::exchange(id_, 0));
    }

    template <class F>
    Result<Session> lookup(std::string_view name, std::string_view scope, std::string_view key, F c_fn) {
        detail::CStr n(name), s(scope, true), k(key);
        if (n.has_nul()) return detail::nul_error("name");
        if (s.has_nul()) return detail::nul_error("scope");
        if (k.has_nul()) return detail::nul_error("key");
        sdm_session *raw = nullptr;
        sdm_result rc = c_fn(raw_, n.get(), s.get(), k.get(), &raw);
        if (rc != SDM_OK) return detail::failure(rc);
        return Session(raw, id_);
    }

    sdm_context *raw_ = nullptr;
    std::uint64_t id_ = 0;
};

}  // namespace sdm

#endif  // SDM_HPP
