// The executor (parkit/exec.h) across ranks, hybrid when a rank has two
// threads. Every rank opens it; rank 0's calling thread submits, waits and
// closes, while every other thread of every rank runs tasks, and the other
// ranks' pk_exec_open return when rank 0 closes. The checks on futures are
// made on rank 0; every rank checks the outcome of open and close and that
// they agree. Tasks and the test share a board: a pk_shared array every rank
// sees (flags that hold tasks until the test lets them go, counts of starts and
// runs per task). Covered as on threads (tests/test_exec.cpp): results and
// numbers, tasks on every worker of every rank, 20 000 small tasks each run
// once, failures with their origin rank and thread, fail-fast, cancellation,
// timeouts, as_completed, callbacks, the lazy map, nested tasks kept on their
// rank, shutdown with tasks in flight, faults named by task, rank and thread,
// misuse, and task names registered differently on different ranks.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "exec_test_util.h"
#include "mpi_test_util.h"
#include "parkit/exec.h"
#include "parkit/sync.h"

namespace {

constexpr int64_t kNestedBase = int64_t{1} << 40;
constexpr int kSlots = 128; // top-level tasks below this number note when they start

// The board's slots.
enum : int64_t {
    kRelease,                // holders run on once it is 1
    kFailNow,                // then the first running holder to see it fails
    kChosen,                 // that holder's task number (-1: none yet)
    kStarted,                // holders, meeters, parents and counts begun, over every rank
    kRunning,                // map elements running now
    kMaxRunning,             // most at once
    kMapRan,                 // map elements run
    kMapSleepUs,             // how long a map element takes
    kGaveUp,                 // 1 once a meeter gave up waiting for the others
    kSlot0 = 16,             // kSlot0 + task: where the task began (see NoteStart)
    kHit0 = kSlot0 + kSlots, // kHit0 + i: runs of "count" with argument i
};

pk_shared *g_board = nullptr; // this process's handle on the test's board
int64_t g_nhits = 0;
std::atomic<int64_t> g_ran{0}; // echo and count tasks run in this process

using Clock = std::chrono::steady_clock;

void SleepMs(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

double Since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

template <class F> bool WaitFor(F pred, double seconds = 20) {
    auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (!pred()) {
        if (Clock::now() > end)
            return false;
        SleepMs(1);
    }
    return true;
}

int64_t BoardGet(int64_t i) {
    int64_t v = -1;
    if (g_board != nullptr)
        pk_shared_load_i64(g_board, i, &v);
    return v;
}

void BoardSet(int64_t i, int64_t v) {
    if (g_board != nullptr)
        pk_shared_store_i64(g_board, i, v);
}

void BoardAdd(int64_t i, int64_t d) {
    if (g_board != nullptr)
        pk_shared_fetch_add_i64(g_board, i, d, nullptr);
}

// Notes that the call's task began, and where: its slot holds 1 + rank * 64 + thread.
void NoteStart(pk_call *call) {
    int64_t task = pk_call_task(call);
    pk_worker *w = pk_call_worker(call);
    if (task >= 0 && task < kSlots)
        BoardSet(kSlot0 + task, 1 + int64_t{w->rank} * 64 + w->thread);
    BoardAdd(kStarted, 1);
}

bool Started(int64_t task) {
    return BoardGet(kSlot0 + task) > 0;
}

// The workers (rank, thread) that began one of the tasks [0, n).
std::set<std::pair<int, int>> StartedOn(int64_t n) {
    std::set<std::pair<int, int>> on;
    for (int64_t t = 0; t < n && t < kSlots; t++) {
        int64_t v = BoardGet(kSlot0 + t);
        if (v > 0)
            on.insert({static_cast<int>((v - 1) / 64), static_cast<int>((v - 1) % 64)});
    }
    return on;
}

// The workers of ctx's pool (every thread of every rank but rank 0's first)
// missing from `on`, as text.
std::string Missing(pk_ctx *ctx, const std::set<std::pair<int, int>> &on) {
    std::string out;
    for (int r = 0; r < pk_ctx_size(ctx); r++)
        for (int t = r == 0 ? 1 : 0; t < pk_ctx_threads(ctx); t++)
            if (on.count({r, t}) == 0)
                out += " rank " + std::to_string(r) + " thread " + std::to_string(t) + ";";
    return out;
}

// The test's board, made collectively on ctx (every rank) and zeroed, with
// `nhits` counters for "count"; freed collectively at the end of the scope.
class Board {
  public:
    Board(pk_ctx *ctx, int64_t nhits) {
        pk_shared *sh = nullptr;
        EXPECT_EQ(pk_shared_new(ctx, &sh, sizeof(int64_t), kHit0 + nhits), 0) << ErrorText(ctx);
        sh_ = sh;
        if (sh_ != nullptr && pk_ctx_rank(ctx) == 0) {
            std::vector<int64_t> zeros(static_cast<size_t>(kHit0 + nhits), 0);
            EXPECT_EQ(pk_shared_put(sh_, 0, kHit0 + nhits, zeros.data()), 0);
            EXPECT_EQ(pk_shared_store_i64(sh_, kChosen, -1), 0);
        }
        EXPECT_EQ(pk_rank_barrier(ctx), 0);
        g_board = sh_;
        g_nhits = nhits;
        g_ran = 0;
    }
    ~Board() {
        g_board = nullptr;
        g_nhits = 0;
        pk_shared_free(sh_);
    }
    bool ok() const { return sh_ != nullptr; }
    // The arguments of "count" in [0, n) that did not run `want` times.
    std::string HitsOtherThan(int64_t n, int64_t want) const {
        std::vector<int64_t> hits(static_cast<size_t>(n), -1);
        if (n > 0)
            pk_shared_get(sh_, kHit0, n, hits.data());
        std::string out;
        for (int64_t i = 0; i < n; i++)
            if (hits[static_cast<size_t>(i)] != want)
                out += " " + std::to_string(i) + "(x" +
                       std::to_string(hits[static_cast<size_t>(i)]) + ")";
        return out;
    }
    int64_t Hits(int64_t i) const { return BoardGet(kHit0 + i); }

  private:
    pk_shared *sh_ = nullptr;
};

int64_t ReadI64(const void *arg) {
    int64_t v = 0;
    std::memcpy(&v, arg, sizeof v);
    return v;
}

// ---- the tasks (registered on every rank) -----------------------------------------

struct Echo {
    int64_t arg;
    int64_t square;
    int64_t task;
    int32_t rank;
    int32_t thread;
};

Echo MakeEcho(pk_call *call, int64_t x) {
    pk_worker *w = pk_call_worker(call);
    return Echo{x, x * x, pk_call_task(call), w != nullptr ? w->rank : -1,
                w != nullptr ? w->thread : -1};
}

int EchoTask(pk_call *call, const void *arg, size_t len) {
    if (arg == nullptr || len != sizeof(int64_t))
        return pk_call_fail(call, PK_EINVAL, "echo takes 8 bytes, not %zu", len);
    g_ran++;
    Echo e = MakeEcho(call, ReadI64(arg));
    return pk_call_return(call, &e, sizeof e);
}

int NoneTask(pk_call *call, const void *arg, size_t len) {
    if (arg != nullptr || len != 0)
        return pk_call_fail(call, PK_EINVAL, "an empty argument must come as NULL, 0");
    return 0;
}

int TwiceTask(pk_call *call, const void *, size_t) {
    int rc = pk_call_return(call, "first result", 13);
    return rc != 0 ? rc : pk_call_return(call, "second", 7);
}

struct FailArg {
    int64_t value;
    int32_t code;    // 0: succeed with 2 * value
    int32_t message; // 1: pk_call_fail with a message, 0: return the code
};

std::string FailMessage(int64_t task, int rank, int thread, int64_t value) {
    return "task " + std::to_string(task) + " on rank " + std::to_string(rank) + ", thread " +
           std::to_string(thread) + " gives up on " + std::to_string(value);
}

int FailTask(pk_call *call, const void *arg, size_t len) {
    if (len != sizeof(FailArg))
        return pk_call_fail(call, PK_EINVAL, "fail takes a FailArg");
    FailArg a;
    std::memcpy(&a, arg, sizeof a);
    if (a.code == 0) {
        int64_t v = 2 * a.value;
        return pk_call_return(call, &v, sizeof v);
    }
    if (a.message == 0)
        return a.code;
    pk_worker *w = pk_call_worker(call);
    return pk_call_fail(call, a.code, "task %lld on rank %d, thread %d gives up on %lld",
                        static_cast<long long>(pk_call_task(call)), w->rank, w->thread,
                        static_cast<long long>(a.value));
}

int CountTask(pk_call *call, const void *arg, size_t len) {
    if (len != sizeof(int64_t))
        return pk_call_fail(call, PK_EINVAL, "count takes 8 bytes");
    int64_t i = ReadI64(arg);
    NoteStart(call);
    if (i >= 0 && i < g_nhits)
        BoardAdd(kHit0 + i, 1);
    g_ran++;
    int64_t v = 3 * i + 1;
    return pk_call_return(call, &v, sizeof v);
}

// Begins (noted), then waits for kRelease; when kFailNow comes first, the first
// running holder to see it fails. Result: its task number.
int HoldTask(pk_call *call, const void *, size_t) {
    int64_t task = pk_call_task(call);
    NoteStart(call);
    auto end = Clock::now() + std::chrono::seconds(30);
    while (BoardGet(kRelease) == 0) {
        if (BoardGet(kFailNow) != 0) {
            int64_t none = -1;
            if (pk_shared_compare_exchange_i64(g_board, kChosen, &none, task) == 0)
                return pk_call_fail(call, PK_EIO, "task %lld was chosen to fail",
                                    static_cast<long long>(task));
        }
        if (Clock::now() > end)
            return pk_call_fail(call, PK_ETIMEDOUT, "task %lld was never released",
                                static_cast<long long>(task));
        SleepMs(1);
    }
    return pk_call_return(call, &task, sizeof task);
}

// Begins, then waits until `arg` tasks have begun (every worker busy at once).
int MeetTask(pk_call *call, const void *arg, size_t len) {
    if (len != sizeof(int64_t))
        return pk_call_fail(call, PK_EINVAL, "meet takes 8 bytes");
    int64_t want = ReadI64(arg);
    NoteStart(call);
    if (!WaitFor([&] { return BoardGet(kStarted) >= want || BoardGet(kGaveUp) != 0; }, 8) ||
        BoardGet(kStarted) < want) {
        BoardSet(kGaveUp, 1); // the others give up at once
        return pk_call_fail(call, PK_ETIMEDOUT, "only %lld of %lld workers met",
                            static_cast<long long>(BoardGet(kStarted)),
                            static_cast<long long>(want));
    }
    Echo e = MakeEcho(call, want);
    return pk_call_return(call, &e, sizeof e);
}

int SleepTask(pk_call *call, const void *arg, size_t len) {
    if (len != sizeof(int64_t))
        return pk_call_fail(call, PK_EINVAL, "sleep takes 8 bytes");
    int64_t ms = ReadI64(arg);
    SleepMs(static_cast<int>(ms));
    return pk_call_return(call, &ms, sizeof ms);
}

struct FibResult {
    int64_t value;
    int64_t bad; // nested numbers outside their rank's range, or children on another rank
    int64_t rank;
};

bool NestedNumberOk(int64_t task, int rank) {
    int64_t base = (int64_t{rank} + 1) * kNestedBase;
    return task >= base && task < base + kNestedBase;
}

int FibTask(pk_call *call, const void *arg, size_t len) {
    if (len != sizeof(int64_t))
        return pk_call_fail(call, PK_EINVAL, "fib takes 8 bytes");
    int64_t n = ReadI64(arg);
    pk_worker *w = pk_call_worker(call);
    FibResult r{n, 0, w->rank};
    if (n >= 2) {
        int64_t args[2] = {n - 1, n - 2};
        pk_future *kids[2] = {nullptr, nullptr};
        int rc = 0;
        for (int k = 0; k < 2 && rc == 0; k++) {
            rc = pk_call_submit(call, "fib", &args[k], sizeof args[k], &kids[k]);
            if (rc == 0 && !NestedNumberOk(pk_future_task(kids[k]), w->rank))
                r.bad++;
        }
        r.value = 0;
        for (int k = 1; k >= 0 && rc == 0; k--) {
            const void *data = nullptr;
            size_t got = 0;
            rc = pk_future_result(kids[k], &data, &got);
            if (rc == 0 && got == sizeof(FibResult)) {
                FibResult kr;
                std::memcpy(&kr, data, sizeof kr);
                r.value += kr.value;
                r.bad += kr.bad + (kr.rank != w->rank ? 1 : 0);
            } else if (rc == 0) {
                rc = PK_EINVAL;
            }
        }
        pk_future_free(kids[0]);
        pk_future_free(kids[1]);
        if (rc != 0)
            return pk_call_fail(call, rc, "fib(%lld): a child failed", static_cast<long long>(n));
    }
    return pk_call_return(call, &r, sizeof r);
}

struct ParentArg {
    int64_t kids;
    int64_t barrier; // begins, then waits (at most 3 s) until this many have begun
};

int ParentTask(pk_call *call, const void *arg, size_t len) {
    if (len != sizeof(ParentArg))
        return pk_call_fail(call, PK_EINVAL, "parent takes a ParentArg");
    ParentArg a;
    std::memcpy(&a, arg, sizeof a);
    NoteStart(call);
    WaitFor([&] { return BoardGet(kStarted) >= a.barrier; }, 3);
    pk_worker *w = pk_call_worker(call);
    std::vector<pk_future *> kids(static_cast<size_t>(a.kids), nullptr);
    int rc = 0;
    for (int64_t k = 0; k < a.kids && rc == 0; k++) {
        int64_t x = k + 1;
        rc = pk_call_submit(call, "echo", &x, sizeof x, &kids[static_cast<size_t>(k)]);
    }
    int64_t sum = 0;
    for (int64_t k = a.kids - 1; k >= 0 && rc == 0; k--) {
        pk_future *f = kids[static_cast<size_t>(k)];
        if (k == a.kids - 1)
            rc = pk_future_wait(f, 20);
        const void *data = nullptr;
        size_t got = 0;
        if (rc == 0)
            rc = pk_future_result(f, &data, &got);
        if (rc == 0 && got == sizeof(Echo)) {
            Echo e;
            std::memcpy(&e, data, sizeof e);
            if (e.task != pk_future_task(f) || !NestedNumberOk(e.task, w->rank) ||
                e.rank != w->rank)
                rc = pk_call_fail(call, PK_ERANGE, "child %lld: task %lld on rank %d (parent: %d)",
                                  static_cast<long long>(k), static_cast<long long>(e.task), e.rank,
                                  w->rank);
            sum += e.square;
        } else if (rc == 0) {
            rc = pk_call_fail(call, PK_EINVAL, "child %lld: %zu bytes", static_cast<long long>(k),
                              got);
        } else {
            rc = pk_call_fail(call, rc, "child %lld failed (%s)", static_cast<long long>(k),
                              pk_err_name(rc));
        }
    }
    for (pk_future *f : kids)
        pk_future_free(f);
    return rc != 0 ? rc : pk_call_return(call, &sum, sizeof sum);
}

// A task waiting on a future of the submitter: the address is rank 0's, so
// only a task on rank 0 tries (elsewhere it answers 1s).
int PermTask(pk_call *call, const void *arg, size_t len) {
    if (len != sizeof(pk_future *))
        return pk_call_fail(call, PK_EINVAL, "perm takes a future");
    int32_t rcs[5] = {1, 1, 1, 1, pk_call_worker(call)->rank};
    if (rcs[4] == 0) {
        pk_future *f = nullptr;
        std::memcpy(&f, arg, sizeof f);
        int idx = -1;
        rcs[0] = pk_future_wait(f, 0.0);
        rcs[1] = pk_future_wait(f, 5.0);
        rcs[2] = pk_future_result(f, nullptr, nullptr);
        rcs[3] = pk_future_wait_any(&f, 1, 0.0, &idx);
    }
    return pk_call_return(call, rcs, sizeof rcs);
}

int MisuseTask(pk_call *call, const void *, size_t) {
    int64_t x = 1;
    pk_future *f = nullptr;
    int32_t rcs[6] = {
        pk_call_submit(call, "no such task", &x, sizeof x, &f),
        pk_call_submit(call, nullptr, &x, sizeof x, &f),
        pk_call_submit(call, "echo", nullptr, sizeof x, &f),
        pk_call_submit(call, "echo", &x, sizeof x, nullptr),
        pk_call_submit(nullptr, "echo", &x, sizeof x, &f),
        pk_call_return(call, nullptr, 8),
    };
    return pk_call_return(call, rcs, sizeof rcs);
}

int ReverseTask(pk_call *call, const void *arg, size_t len) {
    std::vector<unsigned char> out(len);
    const auto *in = static_cast<const unsigned char *>(arg);
    for (size_t i = 0; i < len; i++)
        out[i] = in[len - 1 - i];
    return pk_call_return(call, out.data(), len);
}

// Map elements: x -> Echo, or PK_ERANGE when x % 7 == 3; counts its runs and
// how many run at once over every rank.
int MapTask(pk_call *call, const void *arg, size_t len) {
    if (arg == nullptr || len != sizeof(int64_t))
        return pk_call_fail(call, PK_EINVAL, "a map element is 8 bytes, not %zu", len);
    int64_t before = 0;
    pk_shared_fetch_add_i64(g_board, kRunning, 1, &before);
    pk_shared_max_i64(g_board, kMaxRunning, before + 1, nullptr);
    BoardAdd(kMapRan, 1);
    int64_t us = BoardGet(kMapSleepUs);
    if (us > 0)
        std::this_thread::sleep_for(std::chrono::microseconds(us));
    BoardAdd(kRunning, -1);
    int64_t x = ReadI64(arg);
    if (x % 7 == 3)
        return pk_call_fail(call, PK_ERANGE, "%lld is unlucky", static_cast<long long>(x));
    Echo e = MakeEcho(call, x);
    return pk_call_return(call, &e, sizeof e);
}

// Every rank registers the same names, before every pk_exec_open.
void RegisterTasks() {
    struct {
        const char *name;
        pk_exec_fn fn;
    } tasks[] = {{"echo", EchoTask},       {"none", NoneTask},         {"twice", TwiceTask},
                 {"fail", FailTask},       {"count", CountTask},       {"hold", HoldTask},
                 {"meet", MeetTask},       {"sleep", SleepTask},       {"fib", FibTask},
                 {"parent", ParentTask},   {"perm", PermTask},         {"misuse", MisuseTask},
                 {"reverse", ReverseTask}, {"square_or_fail", MapTask}};
    for (auto &t : tasks)
        EXPECT_EQ(pk_exec_register(t.name, t.fn), 0) << t.name;
}

// ---- callbacks ------------------------------------------------------------------------

struct Seen {
    pk_future *future = nullptr;
    std::thread::id submitter;
    std::atomic<int> done{0}, error{0}, elsewhere{0}, wrong_future{0};
    std::atomic<int> code{0};
};

void Note(pk_future *f, Seen *s) {
    if (std::this_thread::get_id() != s->submitter)
        s->elsewhere++;
    if (f != s->future)
        s->wrong_future++;
}

void OnDone(pk_future *f, void *arg) {
    auto *s = static_cast<Seen *>(arg);
    Note(f, s);
    s->done++;
}

void OnError(pk_future *f, void *arg) {
    auto *s = static_cast<Seen *>(arg);
    Note(f, s);
    s->error++;
    const pk_error_info *e = pk_future_error(f);
    s->code = e != nullptr ? e->code : 1;
}

int64_t Fib(int64_t n) {
    int64_t a = 0, b = 1;
    for (int64_t i = 0; i < n; i++) {
        int64_t c = a + b;
        a = b;
        b = c;
    }
    return a;
}

// ---- helpers on rank 0 --------------------------------------------------------------

// The futures a test made, freed at the end of its scope (before or after the
// close: both are allowed).
struct Futures {
    std::vector<pk_future *> all;
    ~Futures() {
        for (pk_future *f : all)
            pk_future_free(f);
    }
    void Forget(pk_future *f) { all.erase(std::remove(all.begin(), all.end(), f), all.end()); }
};

pk_future *Submit(pk_exec *ex, Futures &fs, const char *name, const void *arg, size_t len) {
    pk_future *f = nullptr;
    int rc = pk_exec_submit(ex, name, arg, len, &f);
    EXPECT_EQ(rc, 0) << "submitting " << name << ": " << pk_err_name(rc);
    if (rc != 0)
        return nullptr;
    if (f != nullptr)
        fs.all.push_back(f);
    return f;
}
template <class T> pk_future *Submit(pk_exec *ex, Futures &fs, const char *name, const T &v) {
    return Submit(ex, fs, name, &v, sizeof v);
}

std::string Describe(const pk_future *f) {
    const pk_error_info *e = pk_future_error(f);
    if (e == nullptr)
        return "no error recorded";
    return std::string(pk_err_name(e->code)) + " at rank " + std::to_string(e->rank) + ", thread " +
           std::to_string(e->thread) + ", task " + std::to_string(e->task) + ": " + e->message;
}

template <class T> T ResultOf(pk_future *f) {
    T v{};
    if (f == nullptr) {
        ADD_FAILURE() << "no future";
        return v;
    }
    const void *data = nullptr;
    size_t len = 0;
    int rc = pk_future_result(f, &data, &len);
    EXPECT_EQ(rc, 0) << "task " << pk_future_task(f) << ": " << pk_err_name(rc) << ", "
                     << Describe(f);
    EXPECT_EQ(len, sizeof(T)) << "task " << pk_future_task(f);
    if (rc == 0 && data != nullptr && len == sizeof(T))
        std::memcpy(&v, data, sizeof v);
    return v;
}

// Futures that must all end cancelled (within 5 s in all): PK_ECANCELED, the
// error recorded with the future's own task number. One failure lists them all.
void ExpectCancelled(const std::vector<pk_future *> &fs, const char *when) {
    std::string ran, wrong, hung;
    auto end = Clock::now() + std::chrono::seconds(5);
    for (pk_future *f : fs) {
        ASSERT_NE(f, nullptr);
        int64_t task = pk_future_task(f);
        double left = std::chrono::duration<double>(end - Clock::now()).count();
        if (pk_future_wait(f, left > 0 ? left : 0) != 0) {
            hung += " " + std::to_string(task);
            continue;
        }
        int rc = pk_future_result(f, nullptr, nullptr);
        if (rc != PK_ECANCELED) {
            ran += " " + std::to_string(task) + "(" + pk_err_name(rc) + ")";
            continue;
        }
        const pk_error_info *e = pk_future_error(f);
        if (e == nullptr || e->code != PK_ECANCELED || e->task != task)
            wrong += " " + std::to_string(task);
    }
    EXPECT_TRUE(hung.empty()) << "not started " << when << ", neither cancelled nor run "
                              << "within 5 s: tasks" << hung;
    EXPECT_TRUE(ran.empty()) << "not started " << when << ", yet not cancelled: tasks" << ran;
    EXPECT_TRUE(wrong.empty()) << "cancelled without PK_ECANCELED and their number in "
                               << "pk_future_error: tasks" << wrong;
}

// Makes executor calls (messages move only inside them) until pred() holds.
template <class F> bool PumpUntil(pk_future *any, F pred, double seconds = 20) {
    return WaitFor(
        [&] {
            pk_future_done(any);
            return pred();
        },
        seconds);
}

// Executor calls for `ms` milliseconds.
void Pump(pk_future *any, int ms) {
    auto end = Clock::now() + std::chrono::milliseconds(ms);
    while (Clock::now() < end) {
        pk_future_done(any);
        SleepMs(1);
    }
}

int Threads(pk_ctx *ctx) {
    return pk_ctx_threads(ctx);
}

// Workers besides the submitter: every thread of every rank but rank 0's first.
int Workers(pk_ctx *ctx) {
    return pk_ctx_size(ctx) * pk_ctx_threads(ctx) - 1;
}

// Holders enough to fill every worker of every rank, every rank's prefetch
// (opts.prefetch 1) and more: the last ones stay on rank 0. Returns once every
// worker has begun one, or after 5 s (a worker that gets no task is
// EveryWorkerOfEveryRankRunsTasks's failure): then no task submitted next can
// start before kRelease, and BoardGet(kStarted) says how many workers hold.
std::vector<pk_future *> FillWorkers(pk_exec *ex, Futures &fs, pk_ctx *ctx) {
    int workers = Workers(ctx);
    int count = 2 * pk_ctx_size(ctx) * Threads(ctx) + 4;
    std::vector<pk_future *> holders;
    for (int i = 0; i < count; i++)
        holders.push_back(Submit(ex, fs, "hold", int64_t{i}));
    PumpUntil(
        holders[0], [&] { return BoardGet(kStarted) >= workers; }, 5);
    Pump(holders[0], 20);
    return holders;
}

pk_exec_opts Opts(int fail_fast, int prefetch) {
    pk_exec_opts o = {};
    o.fail_fast = fail_fast;
    o.prefetch = prefetch;
    return o;
}

// Every rank opens an executor on ctx; rank 0 runs body(ex) (which may
// ASSERT), lets every holder go, and closes it with `how`. Returns the code of
// open and close on this rank; the other ranks' open must return NULL.
template <class F>
int OnExecutor(pk_ctx *ctx, const pk_exec_opts *o, F body, int how = PK_EXEC_WAIT) {
    pk_exec *ex = nullptr;
    int rc = pk_exec_open(ctx, &ex, o);
    if (pk_ctx_rank(ctx) == 0) {
        EXPECT_EQ(rc, 0) << ErrorText(ctx);
        EXPECT_NE(ex, nullptr) << "rank 0 gets the executor";
    } else {
        EXPECT_EQ(ex, nullptr) << "only rank 0 gets the executor";
    }
    if (rc == 0 && ex != nullptr) {
        body(ex);
        BoardSet(kRelease, 1);
        rc = pk_exec_close(ex, how);
    }
    return rc;
}

// The outcome every rank must agree on: 0 from open and close everywhere.
void ExpectCleanEverywhere(int rc) {
    EXPECT_EQ(rc, 0) << pk_err_name(rc);
    EXPECT_TRUE(SameOnAllRanks(rc)) << "ranks disagree on the executor's outcome";
}

} // namespace

// ---- results -----------------------------------------------------------------------------

TEST(MpiExec, ResultsMatchTheirSubmission) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Board board(ctx.get(), 0);
    RegisterTasks();
    constexpr int kN = 200;
    int ranks = pk_ctx_size(ctx.get()), threads = Threads(ctx.get());
    int rc = OnExecutor(ctx.get(), nullptr, [&](pk_exec *ex) {
        Futures fs;
        std::vector<pk_future *> f;
        int64_t buf = 0;
        for (int i = 0; i < kN; i++) {
            buf = 7 * i + 3;
            f.push_back(Submit(ex, fs, "echo", &buf, sizeof buf));
            ASSERT_NE(f.back(), nullptr);
            EXPECT_EQ(pk_future_task(f.back()), i);
        }
        buf = -1;
        EXPECT_EQ(pk_exec_submitted(ex), kN);
        std::set<int> where;
        for (int i = 0; i < kN; i++) {
            Echo e = ResultOf<Echo>(f[static_cast<size_t>(i)]);
            EXPECT_EQ(e.arg, 7 * i + 3) << "task " << i;
            EXPECT_EQ(e.square, e.arg * e.arg);
            EXPECT_EQ(e.task, i);
            EXPECT_GE(e.rank, 0);
            EXPECT_LT(e.rank, ranks);
            EXPECT_GE(e.thread, 0);
            EXPECT_LT(e.thread, threads);
            EXPECT_EQ(pk_future_error(f[static_cast<size_t>(i)]), nullptr);
        }
        EXPECT_EQ(pk_exec_completed(ex), kN);
        int64_t x = 5;
        pk_future *none1 = Submit(ex, fs, "none", nullptr, 0);
        pk_future *none2 = Submit(ex, fs, "none", &x, 0);
        pk_future *twice = Submit(ex, fs, "twice", nullptr, 0);
        ASSERT_TRUE(none1 && none2 && twice);
        EXPECT_EQ(pk_future_task(twice), kN + 2);
        const void *data = &x;
        size_t len = 99;
        EXPECT_EQ(pk_future_result(none1, &data, &len), 0) << Describe(none1);
        EXPECT_EQ(data, nullptr);
        EXPECT_EQ(len, 0u);
        EXPECT_EQ(pk_future_result(none2, nullptr, nullptr), 0) << Describe(none2);
        ASSERT_EQ(pk_future_result(twice, &data, &len), 0) << Describe(twice);
        ASSERT_NE(data, nullptr);
        EXPECT_EQ(std::string(static_cast<const char *>(data), len), std::string("second", 7));
    });
    ExpectCleanEverywhere(rc);
    EXPECT_EQ(SumOverRanks(g_ran.load()), kN) << "echo tasks run over every rank";
}

TEST(MpiExec, ManySmallTasksRunExactlyOnce) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    constexpr int64_t kN = 20000;
    Board board(ctx.get(), kN);
    RegisterTasks();
    int rc = OnExecutor(ctx.get(), nullptr, [&](pk_exec *ex) {
        Futures fs;
        std::vector<pk_future *> f;
        f.reserve(kN);
        for (int64_t i = 0; i < kN; i++) {
            f.push_back(Submit(ex, fs, "count", i));
            ASSERT_NE(f.back(), nullptr) << "task " << i;
        }
        int64_t wrong = 0, first_wrong = -1;
        for (int64_t i = 0; i < kN; i++) {
            const void *data = nullptr;
            size_t len = 0;
            int r = pk_future_result(f[static_cast<size_t>(i)], &data, &len);
            bool ok = r == 0 && len == sizeof(int64_t) && ReadI64(data) == 3 * i + 1;
            if (!ok && wrong++ == 0)
                first_wrong = i;
        }
        EXPECT_EQ(wrong, 0) << "first wrong result: task " << first_wrong;
        EXPECT_EQ(pk_exec_submitted(ex), kN);
        EXPECT_EQ(pk_exec_completed(ex), kN);
    });
    ExpectCleanEverywhere(rc);
    EXPECT_EQ(SumOverRanks(g_ran.load()), kN) << "runs over every rank";
    if (WorldRank() == 0)
        EXPECT_EQ(board.HitsOtherThan(kN, 1), "") << "arguments not run exactly once";
}

TEST(MpiExec, EveryWorkerOfEveryRankRunsTasks) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Board board(ctx.get(), 0);
    RegisterTasks();
    int ranks = pk_ctx_size(ctx.get()), threads = Threads(ctx.get());
    int workers = Workers(ctx.get());
    pk_exec_opts o = Opts(0, 1);
    // submitted at once: tasks that wait until every worker has one
    int rc = OnExecutor(ctx.get(), &o, [&](pk_exec *ex) {
        Futures fs;
        std::vector<pk_future *> f;
        for (int i = 0; i < 2 * ranks * threads + 2; i++)
            f.push_back(Submit(ex, fs, "meet", int64_t{workers}));
        for (pk_future *x : f)
            ResultOf<Echo>(x);
        EXPECT_EQ(Missing(ctx.get(), StartedOn(kSlots)), "") << "workers that began no task";
    });
    ExpectCleanEverywhere(rc);
    // tasks that hold their worker until released, submitted at once or one at
    // a time (each given time to begin): every worker gets one, also on a rank
    // whose first worker is already busy with a long task. Which worker takes
    // which task is a race: six rounds, up to the first that fails.
    for (int round = 0; round < 6; round++) {
        if (SumOverRanks(testing::Test::HasFailure() ? 1 : 0) > 0) // on every rank alike
            break;
        int spaced = round % 2 == 0 ? 0 : 20;
        SCOPED_TRACE(std::string("round ") + std::to_string(round) +
                     (spaced ? ", submitted one at a time" : ", submitted at once"));
        if (WorldRank() == 0) {
            BoardSet(kStarted, 0);
            BoardSet(kRelease, 0);
            for (int64_t t = 0; t < kSlots; t++)
                BoardSet(kSlot0 + t, 0);
        }
        EXPECT_EQ(pk_rank_barrier(ctx.get()), 0);
        rc = OnExecutor(ctx.get(), &o, [&](pk_exec *ex) {
            Futures fs;
            std::vector<pk_future *> holders;
            for (int i = 0; i < 2 * ranks * threads + 4; i++) {
                holders.push_back(Submit(ex, fs, "hold", int64_t{i}));
                Pump(holders.back(), spaced);
            }
            bool all = PumpUntil(
                holders[0], [&] { return BoardGet(kStarted) >= workers; }, 5);
            EXPECT_TRUE(all) << BoardGet(kStarted) << " of " << workers
                             << " workers began a task within 5 s, " << holders.size()
                             << " submitted; idle:" << Missing(ctx.get(), StartedOn(kSlots));
            BoardSet(kRelease, 1);
            for (pk_future *h : holders)
                EXPECT_EQ(ResultOf<int64_t>(h), pk_future_task(h));
        });
        ExpectCleanEverywhere(rc);
    }
}

// With the default prefetch a rank may hold many short tasks at once (its
// share grows while results come back fast). Long tasks submitted after such a
// burst must still reach every worker of every rank, not queue up on the ranks
// that held the most.
TEST(MpiExec, AfterABurstOfShortTasksLongOnesStillReachEveryWorker) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    constexpr int64_t kShort = 5000;
    Board board(ctx.get(), kShort);
    RegisterTasks();
    int ranks = pk_ctx_size(ctx.get()), threads = Threads(ctx.get());
    int workers = Workers(ctx.get());
    if (WorldRank() == 0)
        BoardSet(kRelease, 0);
    EXPECT_EQ(pk_rank_barrier(ctx.get()), 0);
    int rc = OnExecutor(ctx.get(), nullptr, [&](pk_exec *ex) {
        Futures fs;
        std::vector<pk_future *> f;
        for (int64_t i = 0; i < kShort; i++) // one at a time, as a task farm does
            f.push_back(Submit(ex, fs, "count", i));
        int64_t wrong = 0;
        for (int64_t i = 0; i < kShort; i++)
            wrong += ResultOf<int64_t>(f[static_cast<size_t>(i)]) != 3 * i + 1;
        EXPECT_EQ(wrong, 0) << "short tasks with a wrong result";
        BoardSet(kStarted, 0);
        std::vector<pk_future *> holders;
        for (int i = 0; i < 2 * ranks * threads + 4; i++)
            holders.push_back(Submit(ex, fs, "hold", int64_t{i}));
        bool all = PumpUntil(
            holders[0], [&] { return BoardGet(kStarted) >= workers; }, 5);
        EXPECT_TRUE(all) << BoardGet(kStarted) << " of " << workers
                         << " workers began a long task within 5 s";
        BoardSet(kRelease, 1);
        for (pk_future *h : holders)
            EXPECT_EQ(ResultOf<int64_t>(h), pk_future_task(h));
    });
    ExpectCleanEverywhere(rc);
    if (WorldRank() == 0)
        EXPECT_EQ(board.HitsOtherThan(kShort, 1), "") << "short tasks not run exactly once";
}

TEST(MpiExec, ArgumentsAndResultsOfAnySizeTravelWhole) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Board board(ctx.get(), 0);
    RegisterTasks();
    int rc = OnExecutor(ctx.get(), nullptr, [&](pk_exec *ex) {
        Futures fs;
        std::vector<size_t> sizes = {1, 7, 1000, size_t{1} << 16, size_t{1} << 20};
        std::vector<std::vector<unsigned char>> args;
        std::vector<pk_future *> f;
        for (int round = 0; round < 2; round++) { // twice: some land on other ranks
            for (size_t n : sizes) {
                std::vector<unsigned char> a(n);
                for (size_t i = 0; i < n; i++)
                    a[i] = static_cast<unsigned char>((i * 131 + n + static_cast<size_t>(round)) &
                                                      0xff);
                f.push_back(Submit(ex, fs, "reverse", a.data(), a.size()));
                args.push_back(std::move(a));
            }
        }
        for (size_t k = 0; k < f.size(); k++) {
            const void *data = nullptr;
            size_t len = 0;
            ASSERT_EQ(pk_future_result(f[k], &data, &len), 0) << Describe(f[k]);
            ASSERT_EQ(len, args[k].size());
            std::vector<unsigned char> want(args[k].rbegin(), args[k].rend());
            EXPECT_EQ(std::memcmp(data, want.data(), len), 0) << len << " bytes";
        }
    });
    ExpectCleanEverywhere(rc);
}

// ---- failures ------------------------------------------------------------------------------

TEST(MpiExec, FailuresStayWithTheirOwnFuturesAndNameTheirOrigin) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Board board(ctx.get(), 0);
    RegisterTasks();
    int ranks = pk_ctx_size(ctx.get()), threads = Threads(ctx.get());
    int rc = OnExecutor(ctx.get(), nullptr, [&](pk_exec *ex) {
        Futures fs;
        constexpr int kN = 60;
        std::vector<FailArg> args;
        std::vector<pk_future *> f;
        for (int i = 0; i < kN; i++) {
            FailArg a{i, 0, 0};
            if (i % 5 == 1)
                a.code = PK_ERANGE;
            if (i % 5 == 3) {
                a.code = PK_EIO;
                a.message = 1;
            }
            args.push_back(a);
            f.push_back(Submit(ex, fs, "fail", a));
        }
        for (int i = 0; i < kN; i++) {
            SCOPED_TRACE("task " + std::to_string(i));
            pk_future *x = f[static_cast<size_t>(i)];
            const FailArg &a = args[static_cast<size_t>(i)];
            const void *data = nullptr;
            size_t len = 0;
            int r = pk_future_result(x, &data, &len);
            if (a.code == 0) {
                EXPECT_EQ(r, 0) << Describe(x);
                ASSERT_EQ(len, sizeof(int64_t));
                EXPECT_EQ(ReadI64(data), 2 * i);
                EXPECT_EQ(pk_future_error(x), nullptr);
                continue;
            }
            EXPECT_EQ(r, a.code);
            const pk_error_info *e = pk_future_error(x);
            ASSERT_NE(e, nullptr);
            EXPECT_EQ(e->code, a.code);
            EXPECT_EQ(e->task, i);
            EXPECT_GE(e->rank, 0);
            EXPECT_LT(e->rank, ranks);
            EXPECT_GE(e->thread, 0);
            EXPECT_LT(e->thread, threads);
            if (a.message != 0)
                EXPECT_EQ(std::string(e->message), FailMessage(i, e->rank, e->thread, i));
        }
        Echo e = ResultOf<Echo>(Submit(ex, fs, "echo", int64_t{4}));
        EXPECT_EQ(e.task, kN);
    });
    ExpectCleanEverywhere(rc);
}

TEST(MpiExec, FailFastCancelsEveryTaskNotStarted) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    if (Workers(ctx.get()) == 0) // one rank of one thread: tasks run in the submitter's
        GTEST_SKIP() << "waits, which tests/test_exec.cpp covers (serial_1, omp_1)";
    constexpr int64_t kQueued = 10;
    Board board(ctx.get(), kQueued);
    RegisterTasks();
    int64_t busy = -1; // holders running when the failure comes
    pk_exec_opts o = Opts(1, 1);
    int rc = OnExecutor(ctx.get(), &o, [&](pk_exec *ex) {
        Futures fs;
        std::vector<pk_future *> holders = FillWorkers(ex, fs, ctx.get());
        busy = BoardGet(kStarted);
        std::vector<pk_future *> queued;
        for (int64_t i = 0; i < kQueued; i++)
            queued.push_back(Submit(ex, fs, "count", i));
        Pump(queued[0], 30);
        ASSERT_EQ(BoardGet(kStarted), busy) << "a task started while every worker was busy";
        BoardSet(kFailNow, 1); // one running holder fails
        ASSERT_TRUE(PumpUntil(queued[0], [] { return BoardGet(kChosen) >= 0; }))
            << "no holder failed";
        int64_t chosen = BoardGet(kChosen), where = BoardGet(kSlot0 + chosen) - 1;
        pk_future *failing = holders[static_cast<size_t>(chosen)];
        ASSERT_EQ(pk_future_wait(failing, 5), 0)
            << "the failure of task " << chosen << " (rank " << where / 64 << ", thread "
            << where % 64 << ") did not reach the submitter within 5 s";
        EXPECT_EQ(pk_future_result(failing, nullptr, nullptr), PK_EIO) << Describe(failing);
        Pump(failing, 200); // the cancellation reaches every rank
        std::vector<pk_future *> not_started;
        for (pk_future *h : holders)
            if (!Started(pk_future_task(h)))
                not_started.push_back(h);
        for (pk_future *q : queued)
            not_started.push_back(q);
        ExpectCancelled(not_started, "when the first task failed (fail-fast)");
        int64_t x = 1;
        pk_future *late = nullptr;
        EXPECT_EQ(pk_exec_submit(ex, "echo", &x, sizeof x, &late), PK_ECLOSED);
        BoardSet(kRelease, 1);
        for (pk_future *h : holders)
            if (h != failing && Started(pk_future_task(h)))
                EXPECT_EQ(ResultOf<int64_t>(h), pk_future_task(h));
    });
    ExpectCleanEverywhere(rc);
    if (WorldRank() == 0) {
        EXPECT_EQ(board.HitsOtherThan(kQueued, 0), "") << "arguments of cancelled tasks that ran";
        EXPECT_EQ(BoardGet(kStarted), busy) << "tasks started after the failure";
    }
}

TEST(MpiExec, CancelOnlyWhatHasNotStarted) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    if (Workers(ctx.get()) == 0) // one rank of one thread: tasks run in the submitter's
        GTEST_SKIP() << "waits, which tests/test_exec.cpp covers (serial_1, omp_1)";
    Board board(ctx.get(), 5);
    RegisterTasks();
    pk_exec_opts o = Opts(0, 1);
    int rc = OnExecutor(ctx.get(), &o, [&](pk_exec *ex) {
        Futures fs;
        std::vector<pk_future *> holders = FillWorkers(ex, fs, ctx.get());
        std::vector<pk_future *> q;
        for (int64_t i = 0; i < 5; i++)
            q.push_back(Submit(ex, fs, "count", i));
        Pump(q[0], 20);
        Seen seen;
        seen.future = q[1];
        seen.submitter = std::this_thread::get_id();
        ASSERT_EQ(pk_future_on_done(q[1], OnDone, OnError, &seen), 0);
        EXPECT_EQ(pk_future_cancel(q[1]), 0) << "behind every worker and prefetch: not handed";
        EXPECT_EQ(pk_future_cancel(q[3]), 0);
        EXPECT_EQ(pk_future_done(q[1]), 1);
        int busy = 0;
        for (pk_future *h : holders)
            if (Started(pk_future_task(h))) {
                EXPECT_EQ(pk_future_cancel(h), PK_EBUSY) << "running";
                busy++;
            }
        EXPECT_EQ(busy, BoardGet(kStarted));
        EXPECT_GE(busy, 1);
        BoardSet(kRelease, 1);
        for (pk_future *h : holders) // every holder runs: none was cancelled
            EXPECT_EQ(ResultOf<int64_t>(h), pk_future_task(h));
        for (int64_t i : {0, 2, 4}) {
            EXPECT_EQ(ResultOf<int64_t>(q[static_cast<size_t>(i)]), 3 * i + 1);
            EXPECT_EQ(pk_future_cancel(q[static_cast<size_t>(i)]), PK_EBUSY) << "ran";
        }
        ExpectCancelled({q[1], q[3]}, "when pk_future_cancel returned 0");
        EXPECT_EQ(pk_future_done(q[0]), 1); // an executor call after the cancellation
        EXPECT_EQ(seen.error.load(), 1) << "on_error of the cancelled task";
        EXPECT_EQ(seen.done.load(), 0);
        EXPECT_EQ(seen.code.load(), PK_ECANCELED);
        EXPECT_EQ(seen.elsewhere.load(), 0);
    });
    ExpectCleanEverywhere(rc);
    if (WorldRank() == 0)
        EXPECT_EQ(board.HitsOtherThan(5, 1), " 1(x0) 3(x0)") << "runs of the five";
}

// ---- waiting ----------------------------------------------------------------------------------

TEST(MpiExec, WaitTimesOutOnATaskThatCannotFinishYet) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    if (Workers(ctx.get()) == 0) // one rank of one thread: tasks run in the submitter's
        GTEST_SKIP() << "waits, which tests/test_exec.cpp covers (serial_1, omp_1)";
    Board board(ctx.get(), 0);
    RegisterTasks();
    int rc = OnExecutor(ctx.get(), nullptr, [&](pk_exec *ex) {
        Futures fs;
        pk_future *h = Submit(ex, fs, "hold", int64_t{0});
        ASSERT_NE(h, nullptr);
        ASSERT_TRUE(PumpUntil(h, [] { return BoardGet(kStarted) >= 1; }));
        auto t0 = Clock::now();
        EXPECT_EQ(pk_future_wait(h, 0.05), PK_ETIMEDOUT);
        double waited = Since(t0);
        EXPECT_GE(waited, 0.04);
        EXPECT_LT(waited, 5.0);
        EXPECT_EQ(pk_future_wait(h, 0), PK_ETIMEDOUT);
        EXPECT_EQ(pk_future_done(h), 0);
        EXPECT_EQ(pk_future_error(h), nullptr);
        int idx = -1;
        EXPECT_EQ(pk_future_wait_any(&h, 1, 0.05, &idx), PK_ETIMEDOUT);
        BoardSet(kRelease, 1);
        EXPECT_EQ(pk_future_wait(h, 20), 0);
        EXPECT_EQ(pk_future_done(h), 1);
        EXPECT_EQ(ResultOf<int64_t>(h), 0);
        EXPECT_EQ(pk_future_wait_any(&h, 1, 20, &idx), 0);
        EXPECT_EQ(idx, 0);
    });
    ExpectCleanEverywhere(rc);
}

TEST(MpiExec, WaitAnyReturnsEveryFutureOnce) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Board board(ctx.get(), 0);
    RegisterTasks();
    int rc = OnExecutor(ctx.get(), nullptr, [&](pk_exec *ex) {
        Futures fs;
        constexpr int kN = 40;
        std::vector<pk_future *> f;
        for (int i = 0; i < kN; i++)
            f.push_back(Submit(ex, fs, "sleep", int64_t{(i * 7) % 5}));
        std::vector<pk_future *> left = f;
        std::vector<int> seen(kN, 0);
        for (int k = 0; k < kN; k++) {
            int idx = -1;
            ASSERT_EQ(pk_future_wait_any(left.data(), kN, 20, &idx), 0) << "round " << k;
            ASSERT_GE(idx, 0);
            ASSERT_LT(idx, kN);
            ASSERT_NE(left[static_cast<size_t>(idx)], nullptr) << "a NULL entry came back";
            EXPECT_EQ(pk_future_done(left[static_cast<size_t>(idx)]), 1);
            seen[static_cast<size_t>(idx)]++;
            left[static_cast<size_t>(idx)] = nullptr;
        }
        for (int i = 0; i < kN; i++)
            EXPECT_EQ(seen[static_cast<size_t>(i)], 1) << "future " << i;
        int idx = -1;
        EXPECT_EQ(pk_future_wait_any(left.data(), kN, 0, &idx), PK_EINVAL);
        std::vector<pk_future *> again = f;
        again[0] = nullptr;
        for (int k = 1; k < kN; k++) {
            idx = -1;
            ASSERT_EQ(pk_future_wait_any(again.data(), kN, 0, &idx), 0);
            EXPECT_EQ(idx, k) << "the first done entry";
            again[static_cast<size_t>(k)] = nullptr;
        }
        for (int i = 0; i < kN; i++)
            EXPECT_EQ(ResultOf<int64_t>(f[static_cast<size_t>(i)]), (i * 7) % 5);
    });
    ExpectCleanEverywhere(rc);
}

TEST(MpiExec, CallbacksRunOnTheSubmitterOnceEach) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Board board(ctx.get(), 0);
    RegisterTasks();
    std::vector<std::unique_ptr<Seen>> seen;
    int rc = OnExecutor(ctx.get(), nullptr, [&](pk_exec *ex) {
        Futures fs;
        constexpr int kN = 40;
        std::vector<pk_future *> f;
        for (int i = 0; i < kN; i++) {
            pk_future *x = Submit(ex, fs, "fail", FailArg{i, i % 4 == 0 ? PK_EIO : 0, 1});
            ASSERT_NE(x, nullptr);
            seen.push_back(std::make_unique<Seen>());
            seen.back()->future = x;
            seen.back()->submitter = std::this_thread::get_id();
            ASSERT_EQ(pk_future_on_done(x, OnDone, OnError, seen.back().get()), 0);
            f.push_back(x);
        }
        for (pk_future *x : f)
            pk_future_result(x, nullptr, nullptr);
        for (pk_future *x : f)
            EXPECT_EQ(pk_future_done(x), 1);
        for (int i = 0; i < kN; i++) {
            SCOPED_TRACE("task " + std::to_string(i));
            const Seen &s = *seen[static_cast<size_t>(i)];
            if (i % 4 == 0) {
                EXPECT_EQ(s.error.load(), 1);
                EXPECT_EQ(s.done.load(), 0);
                EXPECT_EQ(s.code.load(), PK_EIO);
            } else {
                EXPECT_EQ(s.done.load(), 1);
                EXPECT_EQ(s.error.load(), 0);
            }
            EXPECT_EQ(s.elsewhere.load(), 0) << "a callback ran on another thread";
            EXPECT_EQ(s.wrong_future.load(), 0);
        }
        // set on a future already done: at the next executor call
        pk_future *ok_done = Submit(ex, fs, "fail", FailArg{7, 0, 0});
        ASSERT_NE(ok_done, nullptr);
        EXPECT_EQ(pk_future_result(ok_done, nullptr, nullptr), 0);
        Seen late;
        late.future = ok_done;
        late.submitter = std::this_thread::get_id();
        ASSERT_EQ(pk_future_on_done(ok_done, OnDone, OnError, &late), 0);
        EXPECT_EQ(pk_future_done(ok_done), 1);
        EXPECT_EQ(late.done.load(), 1);
        EXPECT_EQ(late.error.load(), 0);
        EXPECT_EQ(late.elsewhere.load(), 0);
    });
    ExpectCleanEverywhere(rc);
    for (size_t i = 0; i < seen.size(); i++) // closing ran none again
        EXPECT_EQ(seen[i]->done.load() + seen[i]->error.load(), 1) << "task " << i;
}

// ---- map ----------------------------------------------------------------------------------

TEST(MpiExec, MapReturnsResultsInOrderWithErrorsPerElement) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Board board(ctx.get(), 0);
    RegisterTasks();
    int rc = OnExecutor(ctx.get(), nullptr, [&](pk_exec *ex) {
        Futures fs;
        ResultOf<Echo>(Submit(ex, fs, "echo", int64_t{1}));
        ResultOf<Echo>(Submit(ex, fs, "echo", int64_t{2}));
        constexpr int64_t kN = 600;
        std::vector<int64_t> xs(kN);
        for (int64_t i = 0; i < kN; i++)
            xs[static_cast<size_t>(i)] = 5 * i + 1;
        pk_map_iter *it = nullptr;
        ASSERT_EQ(pk_exec_map(ex, "square_or_fail", xs.data(), sizeof(int64_t), kN, 3, 4, &it), 0);
        for (int64_t i = 0; i < kN; i++) {
            const void *data = nullptr;
            size_t len = 0;
            int task_rc = 99;
            ASSERT_EQ(pk_map_next(it, &data, &len, &task_rc), 0) << "element " << i;
            int64_t x = xs[static_cast<size_t>(i)];
            if (x % 7 == 3) {
                EXPECT_EQ(task_rc, PK_ERANGE) << "element " << i;
                continue;
            }
            ASSERT_EQ(task_rc, 0) << "element " << i;
            ASSERT_EQ(len, sizeof(Echo));
            Echo e;
            std::memcpy(&e, data, sizeof e);
            EXPECT_EQ(e.arg, x) << "element " << i << ": out of order";
            EXPECT_EQ(e.task, 2 + i) << "a map of n arguments takes n numbers";
        }
        EXPECT_EQ(pk_map_next(it, nullptr, nullptr, nullptr), PK_ECLOSED);
        EXPECT_EQ(pk_map_next(it, nullptr, nullptr, nullptr), PK_ECLOSED);
        pk_map_free(it);
        EXPECT_EQ(BoardGet(kMapRan), kN);

        constexpr int64_t kOne = 40;
        BoardSet(kMaxRunning, 0);
        BoardSet(kMapSleepUs, 500);
        it = nullptr;
        ASSERT_EQ(pk_exec_map(ex, "square_or_fail", xs.data(), sizeof(int64_t), kOne, 1, 1, &it),
                  0);
        for (int64_t i = 0; i < kOne; i++) {
            int task_rc = 99;
            ASSERT_EQ(pk_map_next(it, nullptr, nullptr, &task_rc), 0);
            EXPECT_EQ(task_rc, xs[static_cast<size_t>(i)] % 7 == 3 ? PK_ERANGE : 0);
        }
        EXPECT_EQ(pk_map_next(it, nullptr, nullptr, nullptr), PK_ECLOSED);
        pk_map_free(it);
        EXPECT_EQ(BoardGet(kMaxRunning), 1) << "max_in_flight 1, chunk 1: one at a time";

        BoardSet(kMaxRunning, 0);
        it = nullptr;
        ASSERT_EQ(pk_exec_map(ex, "square_or_fail", xs.data(), sizeof(int64_t), kOne, 2, 3, &it),
                  0);
        for (int64_t i = 0; i < kOne; i++)
            ASSERT_EQ(pk_map_next(it, nullptr, nullptr, nullptr), 0);
        EXPECT_EQ(pk_map_next(it, nullptr, nullptr, nullptr), PK_ECLOSED);
        pk_map_free(it);
        EXPECT_LE(BoardGet(kMaxRunning), 6) << "max_in_flight 2, chunk 3";
        BoardSet(kMapSleepUs, 0);

        it = nullptr;
        ASSERT_EQ(pk_exec_map(ex, "square_or_fail", xs.data(), sizeof(int64_t), 50, 0, 0, &it), 0);
        for (int64_t i = 0; i < 50; i++) {
            const void *data = nullptr;
            size_t len = 0;
            int task_rc = 99;
            ASSERT_EQ(pk_map_next(it, &data, &len, &task_rc), 0);
            if (task_rc == 0) {
                ASSERT_EQ(len, sizeof(Echo));
                Echo e;
                std::memcpy(&e, data, sizeof e);
                EXPECT_EQ(e.arg, xs[static_cast<size_t>(i)]);
            }
        }
        EXPECT_EQ(pk_map_next(it, nullptr, nullptr, nullptr), PK_ECLOSED);
        pk_map_free(it);
        it = nullptr;
        ASSERT_EQ(pk_exec_map(ex, "square_or_fail", xs.data(), sizeof(int64_t), 0, 0, 0, &it), 0);
        EXPECT_EQ(pk_map_next(it, nullptr, nullptr, nullptr), PK_ECLOSED);
        pk_map_free(it);

        int64_t before = 2 + kN + 2 * kOne + 50;
        Echo after = ResultOf<Echo>(Submit(ex, fs, "echo", int64_t{3}));
        EXPECT_EQ(after.task, before);
        int64_t tasks = 2 + (kN + 3) / 4 + kOne + (kOne + 2) / 3 + 50 + 1;
        EXPECT_EQ(pk_exec_submitted(ex), tasks) << "a chunk of arguments is one task";
        EXPECT_EQ(pk_exec_completed(ex), tasks);
    });
    ExpectCleanEverywhere(rc);
}

TEST(MpiExec, MapFreedEarlyCancelsTheRest) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Board board(ctx.get(), 0);
    RegisterTasks();
    constexpr int64_t kN = 5000;
    std::vector<int64_t> xs(kN);
    for (int64_t i = 0; i < kN; i++)
        xs[static_cast<size_t>(i)] = 7 * i;
    int rc = OnExecutor(ctx.get(), nullptr, [&](pk_exec *ex) {
        BoardSet(kMapSleepUs, 100);
        pk_map_iter *it = nullptr;
        ASSERT_EQ(pk_exec_map(ex, "square_or_fail", xs.data(), sizeof(int64_t), kN, 2, 4, &it), 0);
        for (int64_t i = 0; i < 5; i++) {
            const void *data = nullptr;
            size_t len = 0;
            int task_rc = 99;
            ASSERT_EQ(pk_map_next(it, &data, &len, &task_rc), 0);
            ASSERT_EQ(task_rc, 0);
            ASSERT_EQ(len, sizeof(Echo));
            Echo e;
            std::memcpy(&e, data, sizeof e);
            EXPECT_EQ(e.arg, 7 * i);
        }
        pk_map_free(it);
        it = nullptr;
        ASSERT_EQ(pk_exec_map(ex, "square_or_fail", xs.data(), sizeof(int64_t), kN, 2, 4, &it), 0);
        pk_map_free(it);
    });
    ExpectCleanEverywhere(rc);
    if (WorldRank() == 0) {
        int64_t ran = BoardGet(kMapRan);
        EXPECT_GE(ran, 5);
        EXPECT_LE(ran, 5 + 2 * 4 + 64 * 2 * 4) << "the map ran far ahead of its bound";
    }
}

// ---- tasks that submit tasks ------------------------------------------------------------------

TEST(MpiExec, NestedTasksStayOnTheirRankAndCombine) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Board board(ctx.get(), 0);
    RegisterTasks();
    int rc = OnExecutor(ctx.get(), nullptr, [&](pk_exec *ex) {
        Futures fs;
        std::vector<pk_future *> f;
        for (int64_t n = 0; n <= 13; n++)
            f.push_back(Submit(ex, fs, "fib", n));
        for (int64_t n = 0; n <= 13; n++) {
            FibResult r = ResultOf<FibResult>(f[static_cast<size_t>(n)]);
            EXPECT_EQ(r.value, Fib(n)) << "fib(" << n << ")";
            EXPECT_EQ(r.bad, 0) << "nested tasks off their rank or outside its numbers, fib(" << n
                                << ") on rank " << r.rank;
        }
    });
    ExpectCleanEverywhere(rc);
}

TEST(MpiExec, WorkersWaitingOnNestedTasksNeverDeadlock) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Board board(ctx.get(), 0);
    RegisterTasks();
    int workers = Workers(ctx.get());
    pk_exec_opts o = Opts(0, 1);
    int rc = OnExecutor(ctx.get(), &o, [&](pk_exec *ex) {
        Futures fs;
        ParentArg a{6, workers};
        std::vector<pk_future *> f;
        for (int i = 0; i < 2 * pk_ctx_size(ctx.get()) * Threads(ctx.get()) + 2; i++)
            f.push_back(Submit(ex, fs, "parent", a));
        for (pk_future *x : f)
            ASSERT_EQ(pk_future_wait(x, 30), 0) << "parents waiting on their children: deadlock";
        for (pk_future *x : f)
            EXPECT_EQ(ResultOf<int64_t>(x), 1 + 4 + 9 + 16 + 25 + 36);
    });
    ExpectCleanEverywhere(rc);
}

// ---- shutdown ----------------------------------------------------------------------------------

TEST(MpiExec, CloseWaitRunsEveryTaskAndFuturesOutliveTheExecutor) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    constexpr int64_t kN = 300;
    Board board(ctx.get(), kN);
    RegisterTasks();
    Futures fs;
    std::vector<pk_future *> f, fibs;
    pk_exec *ex = nullptr;
    int rc = pk_exec_open(ctx.get(), &ex, nullptr);
    if (rc == 0 && ex != nullptr) {
        for (int64_t i = 0; i < kN; i++)
            f.push_back(Submit(ex, fs, "count", i));
        for (int64_t n : {10, 12, 13})
            fibs.push_back(Submit(ex, fs, "fib", n));
        rc = pk_exec_close(ex, PK_EXEC_WAIT);
    }
    ExpectCleanEverywhere(rc);
    EXPECT_EQ(SumOverRanks(g_ran.load()), kN);
    if (WorldRank() == 0) {
        ASSERT_EQ(f.size(), static_cast<size_t>(kN));
        for (int64_t i = 0; i < kN; i++) {
            pk_future *x = f[static_cast<size_t>(i)];
            ASSERT_NE(x, nullptr);
            ASSERT_EQ(pk_future_done(x), 1) << "task " << i << " not run by close";
            EXPECT_EQ(ResultOf<int64_t>(x), 3 * i + 1);
        }
        EXPECT_EQ(board.HitsOtherThan(kN, 1), "") << "arguments not run exactly once";
        EXPECT_EQ(ResultOf<FibResult>(fibs[0]).value, 55);
        EXPECT_EQ(ResultOf<FibResult>(fibs[1]).value, 144);
        EXPECT_EQ(ResultOf<FibResult>(fibs[2]).value, 233);
    }
}

// Rank 0's futures come from slabs its process reuses: freed ones are handed
// out again by the same executor, and the slabs pass to the next executor; a
// future held across executors keeps its own result (as on threads).
TEST(MpiExec, FutureMemoryIsReusedWithoutMixingExecutors) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    constexpr int64_t kN = 300; // several slabs' worth
    Board board(ctx.get(), 4 * kN);
    RegisterTasks();
    Futures fs;
    std::vector<pk_future *> first;
    auto free_now = [&](pk_future *f) {
        fs.Forget(f);
        pk_future_free(f);
    };
    int rc = OnExecutor(ctx.get(), nullptr, [&](pk_exec *ex) {
        for (int64_t i = 0; i < kN; i++)
            first.push_back(Submit(ex, fs, "count", i));
        for (int64_t i = 0; i < kN; i++)
            ASSERT_EQ(ResultOf<int64_t>(first[static_cast<size_t>(i)]), 3 * i + 1) << "task " << i;
        for (int64_t i = 0; i < kN / 2; i++) // half freed now: their memory is reused...
            free_now(first[static_cast<size_t>(i)]);
        std::vector<pk_future *> again; // ...here
        for (int64_t i = kN; i < 2 * kN; i++)
            again.push_back(Submit(ex, fs, "count", i));
        for (int64_t i = kN; i < 2 * kN; i++)
            ASSERT_EQ(ResultOf<int64_t>(again[static_cast<size_t>(i - kN)]), 3 * i + 1)
                << "task " << i;
        for (pk_future *f : again)
            free_now(f);
    });
    ExpectCleanEverywhere(rc);
    // a second and a third executor, while the first's second half is held
    for (int round = 2; round <= 3; round++) {
        std::vector<pk_future *> next;
        rc = OnExecutor(ctx.get(), nullptr, [&](pk_exec *ex) {
            for (int64_t i = round * kN; i < (round + 1) * kN; i++)
                next.push_back(Submit(ex, fs, "count", i));
        });
        ExpectCleanEverywhere(rc);
        for (size_t k = 0; k < next.size(); k++) {
            int64_t i = round * kN + static_cast<int64_t>(k);
            ASSERT_EQ(pk_future_done(next[k]), 1);
            EXPECT_EQ(ResultOf<int64_t>(next[k]), 3 * i + 1) << "round " << round << ", task " << i;
            free_now(next[k]);
        }
    }
    if (WorldRank() == 0) {
        ASSERT_EQ(first.size(), static_cast<size_t>(kN));
        for (int64_t i = kN / 2; i < kN; i++) {
            pk_future *f = first[static_cast<size_t>(i)];
            ASSERT_EQ(pk_future_done(f), 1);
            EXPECT_EQ(pk_future_task(f), i);
            EXPECT_EQ(ResultOf<int64_t>(f), 3 * i + 1) << "a future held since the first executor";
        }
        EXPECT_EQ(board.HitsOtherThan(4 * kN, 1), "") << "arguments not run exactly once";
    }
}

TEST(MpiExec, CloseCancelCancelsWhatHasNotStarted) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    constexpr int64_t kN = 20;
    Board board(ctx.get(), kN);
    RegisterTasks();
    int64_t busy = -1; // holders running at the close
    Futures fs;
    std::vector<pk_future *> holders, counts;
    pk_exec_opts o = Opts(0, 1);
    pk_exec *ex = nullptr;
    int rc = pk_exec_open(ctx.get(), &ex, &o);
    if (rc == 0 && ex != nullptr) {
        holders = FillWorkers(ex, fs, ctx.get());
        busy = BoardGet(kStarted);
        for (int64_t i = 0; i < kN; i++)
            counts.push_back(Submit(ex, fs, "count", i));
        std::thread releaser([] {
            SleepMs(150);
            BoardSet(kRelease, 1);
        });
        rc = pk_exec_close(ex, PK_EXEC_CANCEL);
        releaser.join();
    }
    ExpectCleanEverywhere(rc);
    if (WorldRank() == 0) {
        EXPECT_EQ(BoardGet(kStarted), busy) << "tasks started after PK_EXEC_CANCEL";
        EXPECT_EQ(board.HitsOtherThan(kN, 0), "") << "arguments of tasks run after the cancel";
        std::vector<pk_future *> not_started;
        for (pk_future *h : holders) {
            ASSERT_NE(h, nullptr);
            EXPECT_EQ(pk_future_done(h), 1) << "task " << pk_future_task(h) << " after close";
            if (Started(pk_future_task(h)))
                EXPECT_EQ(ResultOf<int64_t>(h), pk_future_task(h)); // running at close
            else
                not_started.push_back(h);
        }
        for (pk_future *c : counts) {
            ASSERT_NE(c, nullptr);
            not_started.push_back(c);
        }
        ExpectCancelled(not_started, "at pk_exec_close(PK_EXEC_CANCEL)");
    }
}

TEST(MpiExec, FreeingAFutureEarlyDropsOnlyItsResult) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    constexpr int64_t kN = 10;
    Board board(ctx.get(), kN);
    RegisterTasks();
    pk_exec_opts o = Opts(0, 1);
    int rc = OnExecutor(ctx.get(), &o, [&](pk_exec *ex) {
        Futures fs;
        std::vector<pk_future *> holders = FillWorkers(ex, fs, ctx.get());
        for (pk_future *h : holders) {
            fs.Forget(h);
            pk_future_free(h);
        }
        std::vector<pk_future *> f;
        for (int64_t i = 0; i < kN; i++)
            f.push_back(Submit(ex, fs, "count", i));
        for (int64_t i = 0; i < kN; i += 2) {
            fs.Forget(f[static_cast<size_t>(i)]);
            pk_future_free(f[static_cast<size_t>(i)]);
        }
        BoardSet(kRelease, 1);
        for (int64_t i = 1; i < kN; i += 2)
            EXPECT_EQ(ResultOf<int64_t>(f[static_cast<size_t>(i)]), 3 * i + 1);
    });
    ExpectCleanEverywhere(rc);
    if (WorldRank() == 0) {
        for (int64_t i = 1; i < kN; i += 2)
            EXPECT_EQ(board.Hits(i), 1) << "task " << i;
        for (int64_t i = 0; i < kN; i += 2)
            EXPECT_LE(board.Hits(i), 1) << "task " << i << " ran twice";
    }
}

// ---- faults --------------------------------------------------------------------------------

TEST(MpiExec, InjectedFaultFailsExactlyThatFutureWhereItNamesIt) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Board board(ctx.get(), 0);
    RegisterTasks();
    int ranks = pk_ctx_size(ctx.get()), threads = Threads(ctx.get());
    struct Case {
        std::string spec;
        int64_t task; // -1: fires nowhere
        int rank, thread;
    };
    int last = ranks - 1;
    std::vector<Case> cases = {{"task=4", 4, -1, -1}, {"kernel=sieve,task=3", -1, -1, -1}};
    if (last > 0 || threads > 1) {
        int t = last == 0 ? 1 : threads - 1;
        cases.push_back(
            {"rank=" + std::to_string(last) + ",thread=" + std::to_string(t) + ",task=6", 6, last,
             t});
    }
    if (threads > 1)
        cases.push_back({"kernel=exec,rank=0,thread=1,task=2", 2, 0, 1});
    if (last > 0)
        cases.push_back({"rank=" + std::to_string(last) + ",thread=0,task=9", 9, last, 0});
    for (const Case &c : cases) {
        SCOPED_TRACE(c.spec);
        ASSERT_EQ(pk_ctx_set_fault(ctx.get(), c.spec.c_str()), 0);
        int rc = OnExecutor(ctx.get(), nullptr, [&](pk_exec *ex) {
            Futures fs;
            std::vector<pk_future *> f;
            for (int64_t i = 0; i < 12; i++)
                f.push_back(Submit(ex, fs, "echo", i));
            for (int64_t i = 0; i < 12; i++) {
                pk_future *x = f[static_cast<size_t>(i)];
                if (i != c.task) {
                    EXPECT_EQ(ResultOf<Echo>(x).square, i * i);
                    continue;
                }
                EXPECT_EQ(pk_future_result(x, nullptr, nullptr), PK_EINJECTED) << "task " << i;
                const pk_error_info *e = pk_future_error(x);
                ASSERT_NE(e, nullptr);
                EXPECT_EQ(e->code, PK_EINJECTED);
                EXPECT_EQ(e->task, c.task);
                if (c.rank >= 0)
                    EXPECT_EQ(e->rank, c.rank);
                if (c.thread >= 0)
                    EXPECT_EQ(e->thread, c.thread);
                EXPECT_GE(e->rank, 0);
                EXPECT_LT(e->rank, ranks);
            }
        });
        ExpectCleanEverywhere(rc);
        ASSERT_EQ(pk_ctx_set_fault(ctx.get(), nullptr), 0);
    }
}

TEST(MpiExec, AFailureWhileTheSubmitterWaitsElsewhereEndsPromptly) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Board board(ctx.get(), 0);
    RegisterTasks();
    int rc = OnExecutor(ctx.get(), nullptr, [&](pk_exec *ex) {
        Futures fs;
        pk_future *slow = Submit(ex, fs, "sleep", int64_t{300});
        pk_future *bad = Submit(ex, fs, "fail", FailArg{1, PK_EIO, 1});
        auto t0 = Clock::now();
        EXPECT_EQ(ResultOf<int64_t>(slow), 300);
        EXPECT_LT(Since(t0), 5.0);
        EXPECT_EQ(pk_future_result(bad, nullptr, nullptr), PK_EIO);
    });
    ExpectCleanEverywhere(rc);
    // fail-fast: the task waited on is cancelled by another's failure
    pk_exec_opts o = Opts(1, 1);
    if (WorldRank() == 0) {
        BoardSet(kRelease, 0);
        BoardSet(kStarted, 0);
    }
    EXPECT_EQ(pk_rank_barrier(ctx.get()), 0);
    rc = OnExecutor(ctx.get(), &o, [&](pk_exec *ex) {
        Futures fs;
        FillWorkers(ex, fs, ctx.get());
        pk_future *waited = Submit(ex, fs, "echo", int64_t{9});
        ASSERT_NE(waited, nullptr);
        std::thread failer([] {
            SleepMs(100);
            BoardSet(kFailNow, 1);
        });
        auto t0 = Clock::now();
        int r = pk_future_wait(waited, 8);
        double took = Since(t0);
        failer.join();
        EXPECT_EQ(r, 0) << "the wait did not end when the failure cancelled the task";
        EXPECT_LT(took, 5.0);
        ExpectCancelled({waited}, "when another task failed (fail-fast)");
    });
    ExpectCleanEverywhere(rc);
}

// ---- misuse ---------------------------------------------------------------------------------

TEST(MpiExec, MisuseIsRefused) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Board board(ctx.get(), 0);
    RegisterTasks();
    EXPECT_EQ(pk_exec_register(nullptr, EchoTask), PK_EINVAL);
    EXPECT_EQ(pk_exec_register("echo_again", nullptr), PK_EINVAL);
    EXPECT_EQ(pk_exec_register("", EchoTask), PK_EINVAL);
    std::string name63(63, 'm'), name64(64, 'm');
    EXPECT_EQ(pk_exec_register(name63.c_str(), EchoTask), 0); // on every rank
    EXPECT_EQ(pk_exec_register(name64.c_str(), EchoTask), PK_EINVAL);
    pk_exec *none = nullptr;
    EXPECT_EQ(pk_exec_open(nullptr, &none, nullptr), PK_EINVAL);
    int threads = Threads(ctx.get());
    int rc = OnExecutor(ctx.get(), nullptr, [&](pk_exec *ex) {
        Futures fs;
        int64_t x = 3;
        pk_future *f = nullptr;
        EXPECT_EQ(pk_exec_submit(ex, "no such task", &x, sizeof x, &f), PK_ENOENT);
        EXPECT_EQ(pk_exec_submit(nullptr, "echo", &x, sizeof x, &f), PK_EINVAL);
        EXPECT_EQ(pk_exec_submit(ex, nullptr, &x, sizeof x, &f), PK_EINVAL);
        EXPECT_EQ(pk_exec_submit(ex, "echo", nullptr, sizeof x, &f), PK_EINVAL);
        EXPECT_EQ(pk_exec_submit(ex, "echo", &x, sizeof x, nullptr), PK_EINVAL);
        Echo e = ResultOf<Echo>(Submit(ex, fs, name63.c_str(), x));
        EXPECT_EQ(e.square, 9);
        EXPECT_EQ(e.task, 0) << "refused submissions take no number";

        int idx = -1;
        EXPECT_EQ(pk_future_wait(nullptr, 1), PK_EINVAL);
        EXPECT_EQ(pk_future_result(nullptr, nullptr, nullptr), PK_EINVAL);
        EXPECT_EQ(pk_future_cancel(nullptr), PK_EINVAL);
        EXPECT_EQ(pk_future_on_done(nullptr, OnDone, OnError, nullptr), PK_EINVAL);
        EXPECT_EQ(pk_future_wait_any(nullptr, 3, 0, &idx), PK_EINVAL);
        pk_future *nulls[2] = {nullptr, nullptr};
        EXPECT_EQ(pk_future_wait_any(nulls, 2, 0, &idx), PK_EINVAL);
        pk_future *done = Submit(ex, fs, "echo", x);
        ASSERT_NE(done, nullptr);
        ResultOf<Echo>(done);
        EXPECT_EQ(pk_future_wait_any(&done, 1, 0, nullptr), PK_EINVAL);

        int64_t xs[4] = {1, 2, 3, 4};
        pk_map_iter *it = nullptr;
        EXPECT_EQ(pk_exec_map(nullptr, "echo", xs, sizeof xs[0], 4, 0, 0, &it), PK_EINVAL);
        EXPECT_EQ(pk_exec_map(ex, nullptr, xs, sizeof xs[0], 4, 0, 0, &it), PK_EINVAL);
        EXPECT_EQ(pk_exec_map(ex, "no such task", xs, sizeof xs[0], 4, 0, 0, &it), PK_ENOENT);
        EXPECT_EQ(pk_exec_map(ex, "echo", nullptr, sizeof xs[0], 4, 0, 0, &it), PK_EINVAL);
        EXPECT_EQ(pk_exec_map(ex, "echo", xs, sizeof xs[0], 4, 0, 0, nullptr), PK_EINVAL);
        EXPECT_EQ(pk_exec_map(ex, "echo", xs, sizeof xs[0], -1, 0, 0, &it), PK_EINVAL);
        EXPECT_EQ(pk_map_next(nullptr, nullptr, nullptr, nullptr), PK_EINVAL);
        pk_map_free(nullptr);

        // from a thread of rank 0 other than the submitter
        ExpectRefusedFromAnotherThread(ex, "echo");
        Echo again = ResultOf<Echo>(Submit(ex, fs, "echo", x));
        EXPECT_EQ(again.square, 9) << "the executor works on after the refusals";

        // from inside tasks, wherever they run
        std::vector<pk_future *> inside;
        for (int i = 0; i < 4; i++)
            inside.push_back(Submit(ex, fs, "misuse", nullptr, 0));
        for (pk_future *m : inside) {
            const void *data = nullptr;
            size_t len = 0;
            ASSERT_EQ(pk_future_result(m, &data, &len), 0) << Describe(m);
            ASSERT_EQ(len, 6 * sizeof(int32_t));
            int32_t rcs[6];
            std::memcpy(rcs, data, sizeof rcs);
            EXPECT_EQ(rcs[0], PK_ENOENT) << "pk_call_submit of an unknown name";
            EXPECT_EQ(rcs[1], PK_EINVAL) << "pk_call_submit, name NULL";
            EXPECT_EQ(rcs[2], PK_EINVAL) << "pk_call_submit, arg NULL with a length";
            EXPECT_EQ(rcs[3], PK_EINVAL) << "pk_call_submit, future NULL";
            EXPECT_EQ(rcs[4], PK_EINVAL) << "pk_call_submit, call NULL";
            EXPECT_EQ(rcs[5], PK_EINVAL) << "pk_call_return, data NULL with a length";
        }

        // a task on rank 0 may not wait on the submitter's futures (rank 0 has
        // workers only with two threads)
        std::vector<pk_future *> perms;
        for (int i = 0; i < 4 * threads; i++)
            perms.push_back(Submit(ex, fs, "perm", &done, sizeof done));
        for (pk_future *p : perms) {
            ASSERT_EQ(pk_future_wait(p, 20), 0) << "a task waiting on the submitter's future hung";
            const void *data = nullptr;
            size_t len = 0;
            ASSERT_EQ(pk_future_result(p, &data, &len), 0) << Describe(p);
            ASSERT_EQ(len, 5 * sizeof(int32_t));
            int32_t r[5];
            std::memcpy(r, data, sizeof r);
            if (r[4] != 0)
                continue;
            EXPECT_EQ(r[0], PK_EPERM) << "pk_future_wait(0) from a task";
            EXPECT_EQ(r[1], PK_EPERM) << "pk_future_wait(5) from a task";
            EXPECT_EQ(r[2], PK_EPERM) << "pk_future_result from a task";
            EXPECT_EQ(r[3], PK_EPERM) << "pk_future_wait_any from a task";
        }
        EXPECT_EQ(pk_future_result(done, nullptr, nullptr), 0);
    });
    ExpectCleanEverywhere(rc);
}

TEST(MpiExec, TaskNamesRegisteredDifferentlyAreRefusedOnEveryRank) {
    if (WorldSize() < 2)
        GTEST_SKIP() << "one rank cannot disagree with itself";
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    Board board(ctx.get(), 0);
    RegisterTasks();
    static int round = 0; // a new name each time the test runs (--gtest_repeat)
    std::string extra = "only_on_the_last_rank_" + std::to_string(round++);
    int last = WorldSize() - 1;
    if (WorldRank() == last)
        EXPECT_EQ(pk_exec_register(extra.c_str(), EchoTask), 0);
    pk_exec *ex = reinterpret_cast<pk_exec *>(&round); // must come back NULL
    int rc = pk_exec_open(ctx.get(), &ex, nullptr);
    EXPECT_EQ(rc, PK_EINVAL) << "rank " << WorldRank();
    EXPECT_EQ(ex, nullptr);
    EXPECT_TRUE(SameOnAllRanks(rc));
    if (ex != nullptr && WorldRank() == 0 && rc == 0)
        pk_exec_close(ex, PK_EXEC_WAIT);
    // once every rank has it, the same names open, and the task runs anywhere
    EXPECT_EQ(pk_exec_register(extra.c_str(), EchoTask), 0);
    rc = OnExecutor(ctx.get(), nullptr, [&](pk_exec *e) {
        Futures fs;
        std::vector<pk_future *> f;
        for (int64_t i = 0; i < 8; i++)
            f.push_back(Submit(e, fs, extra.c_str(), i));
        for (int64_t i = 0; i < 8; i++)
            EXPECT_EQ(ResultOf<Echo>(f[static_cast<size_t>(i)]).square, i * i);
    });
    ExpectCleanEverywhere(rc);
}
