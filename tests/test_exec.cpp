// The executor (parkit/exec.h) on the serial backend and on 1-4 OpenMP
// threads. With one thread the submitter is the only worker and runs the tasks
// inside its waits; with T threads the T - 1 others run them. Covered: results
// and task numbers against the submission, 100 000 small tasks each run once,
// failures that stay with their own future (code, message, origin), fail-fast,
// cancellation of what has not started and only that, timeouts, as_completed,
// callbacks on the submitter's thread, the lazy map (order, errors per element,
// its bound, freed early), tasks that submit tasks (and every worker waiting on
// tasks nobody runs: they run inline), shutdown with tasks in flight, an
// injected fault on one task, and misuse. Tasks that must not finish yet wait
// on a flag the test sets later (only where another thread runs them).
// tests/mpi/test_mpi_exec.cpp runs the same contract across ranks.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "exec_test_util.h"
#include "parkit/exec.h"
#include "test_util.h"

namespace {

constexpr int64_t kNestedBase = int64_t{1} << 40;
constexpr int kSlots = 256; // top-level tasks below this number note when they start

using Clock = std::chrono::steady_clock;

void SleepMs(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

double Since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Sleeps in small steps until pred() holds (true) or `seconds` pass (false).
template <class F> bool WaitFor(F pred, double seconds = 20) {
    auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (!pred()) {
        if (Clock::now() > end)
            return false;
        SleepMs(1);
    }
    return true;
}

// What the tasks and the test share: one process, so plain atomics.
struct Board {
    std::atomic<int> release{0};     // holders run on once it is set
    std::atomic<int> fail_now{0};    // then the first running holder to see it fails
    std::atomic<int64_t> chosen{-1}; // that holder's task number
    std::atomic<int> started{0};     // holders, parents and meeters begun
    std::atomic<int> started_at[kSlots];
    std::atomic<int> running{0}, max_running{0}, map_ran{0}, map_sleep_us{0};
    std::unique_ptr<std::atomic<int>[]> hits; // executions of "count" per argument
    int64_t nhits = 0;
};
Board g;

void ResetBoard(int64_t nhits) {
    g.release = 0;
    g.fail_now = 0;
    g.chosen = -1;
    g.started = 0;
    for (auto &s : g.started_at)
        s = 0;
    g.running = 0;
    g.max_running = 0;
    g.map_ran = 0;
    g.map_sleep_us = 0;
    g.hits.reset(nhits > 0 ? new std::atomic<int>[static_cast<size_t>(nhits)] : nullptr);
    for (int64_t i = 0; i < nhits; i++)
        g.hits[i] = 0;
    g.nhits = nhits;
}

int Hits(int64_t i) {
    return i >= 0 && i < g.nhits ? g.hits[i].load() : -1;
}

// The arguments of "count" in [0, n) that did not run `want` times ("" when
// none), to report them in one line.
std::string HitsOtherThan(int64_t n, int want) {
    std::string out;
    for (int64_t i = 0; i < n; i++)
        if (Hits(i) != want)
            out += " " + std::to_string(i) + "(x" + std::to_string(Hits(i)) + ")";
    return out;
}

// The first argument of "count" in [0, n) that did not run exactly once, with
// how often it ran ("" when none).
std::string FirstNotRunOnce(int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (Hits(i) != 1)
            return "task " + std::to_string(i) + " ran " + std::to_string(Hits(i)) + " times";
    return "";
}

void NoteStart(int64_t task) {
    if (task >= 0 && task < kSlots)
        g.started_at[task] = 1;
    g.started++;
}

int64_t ReadI64(const void *arg) {
    int64_t v = 0;
    std::memcpy(&v, arg, sizeof v);
    return v;
}

// ---- the tasks ----------------------------------------------------------------------

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

// "echo": 8 bytes x -> Echo (x, x*x, the task's number, where it ran).
int EchoTask(pk_call *call, const void *arg, size_t len) {
    if (arg == nullptr || len != sizeof(int64_t))
        return pk_call_fail(call, PK_EINVAL, "echo takes 8 bytes, not %zu", len);
    Echo e = MakeEcho(call, ReadI64(arg));
    return pk_call_return(call, &e, sizeof e);
}

// "none": no argument (arg NULL), no result.
int NoneTask(pk_call *call, const void *arg, size_t len) {
    if (arg != nullptr || len != 0)
        return pk_call_fail(call, PK_EINVAL, "an empty argument must come as NULL, 0");
    return 0;
}

// "twice": sets a result, then another that replaces it.
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

// "fail"
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

// "count": 8 bytes i -> counts the run of i, result 3i + 1.
int CountTask(pk_call *call, const void *arg, size_t len) {
    if (len != sizeof(int64_t))
        return pk_call_fail(call, PK_EINVAL, "count takes 8 bytes");
    int64_t i = ReadI64(arg);
    if (i >= 0 && i < g.nhits)
        g.hits[i]++;
    int64_t v = 3 * i + 1;
    return pk_call_return(call, &v, sizeof v);
}

// "hold": begins (noted), then waits for g.release; when g.fail_now is set
// first, the first holder to see it fails. Result: its task number.
int HoldTask(pk_call *call, const void *, size_t) {
    int64_t task = pk_call_task(call);
    NoteStart(task);
    auto end = Clock::now() + std::chrono::seconds(30);
    while (g.release.load() == 0) {
        if (g.fail_now.load() != 0) {
            int64_t none = -1;
            if (g.chosen.compare_exchange_strong(none, task))
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

// "meet": begins, then waits until `arg` tasks have begun (every worker busy at
// once). Result: Echo of where it ran.
int MeetTask(pk_call *call, const void *arg, size_t len) {
    if (len != sizeof(int64_t))
        return pk_call_fail(call, PK_EINVAL, "meet takes 8 bytes");
    int64_t want = ReadI64(arg);
    NoteStart(pk_call_task(call));
    if (!WaitFor([&] { return g.started.load() >= want; }, 20))
        return pk_call_fail(call, PK_ETIMEDOUT, "only %d of %lld workers met", g.started.load(),
                            static_cast<long long>(want));
    Echo e = MakeEcho(call, want);
    return pk_call_return(call, &e, sizeof e);
}

// "sleep": 8 bytes ms -> sleeps that long, result ms.
int SleepTask(pk_call *call, const void *arg, size_t len) {
    if (len != sizeof(int64_t))
        return pk_call_fail(call, PK_EINVAL, "sleep takes 8 bytes");
    int64_t ms = ReadI64(arg);
    SleepMs(static_cast<int>(ms));
    return pk_call_return(call, &ms, sizeof ms);
}

struct FibResult {
    int64_t value;
    int64_t bad; // nested numbers out of their range, or children on another rank
};

bool NestedNumberOk(int64_t task, int rank) {
    int64_t base = (int64_t{rank} + 1) * kNestedBase;
    return task >= base && task < base + kNestedBase;
}

// "fib": n -> fib(n), computed by two nested tasks waited on (the later one
// first: most likely not started, so it runs inline).
int FibTask(pk_call *call, const void *arg, size_t len) {
    if (len != sizeof(int64_t))
        return pk_call_fail(call, PK_EINVAL, "fib takes 8 bytes");
    int64_t n = ReadI64(arg);
    pk_worker *w = pk_call_worker(call);
    FibResult r{n, 0};
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
                r.bad += kr.bad;
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
    int64_t barrier; // begins, then waits (at most 10 s) until this many have begun
};

// "parent": submits `kids` echo tasks and waits on them, last first; result the
// sum of their squares (1^2 + ... + kids^2), or a failure naming what was wrong.
int ParentTask(pk_call *call, const void *arg, size_t len) {
    if (len != sizeof(ParentArg))
        return pk_call_fail(call, PK_EINVAL, "parent takes a ParentArg");
    ParentArg a;
    std::memcpy(&a, arg, sizeof a);
    NoteStart(pk_call_task(call));
    WaitFor([&] { return g.started.load() >= a.barrier; }, 10);
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
        if (k == a.kids - 1) // a timed wait on a task not started runs it inline too
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
                rc =
                    pk_call_fail(call, PK_ERANGE, "child %lld: task %lld on rank %d",
                                 static_cast<long long>(k), static_cast<long long>(e.task), e.rank);
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

// "perm": a task waiting on a future of the submitter (its address as the
// argument, same process): every wait is refused.
int PermTask(pk_call *call, const void *arg, size_t len) {
    if (len != sizeof(pk_future *))
        return pk_call_fail(call, PK_EINVAL, "perm takes a future");
    pk_future *f = nullptr;
    std::memcpy(&f, arg, sizeof f);
    int idx = -1;
    int32_t rcs[4] = {pk_future_wait(f, 0.0), pk_future_wait(f, 5.0),
                      pk_future_result(f, nullptr, nullptr), pk_future_wait_any(&f, 1, 0.0, &idx)};
    return pk_call_return(call, rcs, sizeof rcs);
}

// "misuse": pk_call_submit and pk_call_return misused from inside a task.
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

// "reverse": any bytes -> the same bytes, reversed.
int ReverseTask(pk_call *call, const void *arg, size_t len) {
    std::vector<unsigned char> out(len);
    const auto *in = static_cast<const unsigned char *>(arg);
    for (size_t i = 0; i < len; i++)
        out[i] = in[len - 1 - i];
    return pk_call_return(call, out.data(), len);
}

// "square_or_fail" (for maps): x -> Echo, or PK_ERANGE when x % 7 == 3;
// counts its runs and how many run at once.
int MapTask(pk_call *call, const void *arg, size_t len) {
    if (arg == nullptr || len != sizeof(int64_t))
        return pk_call_fail(call, PK_EINVAL, "a map element is 8 bytes, not %zu", len);
    int now = ++g.running;
    int most = g.max_running.load();
    while (now > most && !g.max_running.compare_exchange_weak(most, now)) {
    }
    g.map_ran++;
    int us = g.map_sleep_us.load();
    if (us > 0)
        std::this_thread::sleep_for(std::chrono::microseconds(us));
    g.running--;
    int64_t x = ReadI64(arg);
    if (x % 7 == 3)
        return pk_call_fail(call, PK_ERANGE, "%lld is unlucky", static_cast<long long>(x));
    Echo e = MakeEcho(call, x);
    return pk_call_return(call, &e, sizeof e);
}

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
        ASSERT_EQ(pk_exec_register(t.name, t.fn), 0) << t.name;
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

// ---- the fixture ---------------------------------------------------------------------

class Exec : public PoolTest {
  protected:
    void SetUp() override {
        PoolTest::SetUp();
        ResetBoard(0);
        RegisterTasks();
    }

    // Whatever a test left: holders released, the executor closed (cancelling
    // what has not started), then its futures freed.
    void TearDown() override {
        g.release = 1;
        if (ex_ != nullptr)
            pk_exec_close(ex_, PK_EXEC_CANCEL);
        ex_ = nullptr;
        for (pk_future *f : futures_)
            pk_future_free(f);
        futures_.clear();
        if (ctx() != nullptr)
            pk_ctx_set_fault(ctx(), nullptr);
    }

    // Workers besides the submitter: 0 on serial and on one thread.
    int Workers() { return pk_ctx_threads(ctx()) - 1; }

    pk_exec *Open(int fail_fast = 0) {
        pk_exec_opts o = {};
        o.fail_fast = fail_fast;
        pk_exec *ex = nullptr;
        int rc = pk_exec_open(ctx(), &ex, &o);
        EXPECT_EQ(rc, 0) << ErrorString();
        EXPECT_NE(ex, nullptr) << "the submitter gets the executor";
        ex_ = rc == 0 ? ex : nullptr;
        return ex_;
    }

    int Close(int how) {
        pk_exec *ex = ex_;
        ex_ = nullptr;
        return pk_exec_close(ex, how);
    }

    pk_future *Submit(const char *name, const void *arg, size_t len) {
        pk_future *f = nullptr;
        int rc = pk_exec_submit(ex_, name, arg, len, &f);
        EXPECT_EQ(rc, 0) << "submitting " << name << ": " << pk_err_name(rc);
        if (rc == 0 && f != nullptr)
            futures_.push_back(f);
        return rc == 0 ? f : nullptr;
    }
    template <class T> pk_future *Submit(const char *name, const T &value) {
        return Submit(name, &value, sizeof value);
    }

    // Frees a future now rather than at the end.
    void Free(pk_future *f) {
        futures_.erase(std::remove(futures_.begin(), futures_.end(), f), futures_.end());
        pk_future_free(f);
    }

    // n holders, once each has begun (on n workers): with n = Workers(), tasks
    // submitted next cannot start before g.release is set.
    std::vector<pk_future *> FillWorkers(int n) {
        std::vector<pk_future *> holders;
        for (int i = 0; i < n; i++)
            holders.push_back(Submit("hold", int64_t{i}));
        EXPECT_TRUE(WaitFor([&] { return g.started.load() >= n; }))
            << g.started.load() << " of " << n << " workers began a holder";
        return holders;
    }

    // With no worker but the submitter, tasks run only inside its waits: none
    // has run before the first wait (elsewhere: always true).
    testing::AssertionResult NothingRanOutsideWaits() {
        if (Workers() > 0)
            return testing::AssertionSuccess();
        int64_t done = pk_exec_completed(ex_);
        if (done == 0)
            return testing::AssertionSuccess();
        return testing::AssertionFailure()
               << done << " task(s) ran before any wait: with no worker but the submitter, "
               << "tasks run inside its waits, not inside pk_exec_submit";
    }

    pk_exec *ex_ = nullptr;
    std::vector<pk_future *> futures_;
};

std::string Describe(const pk_future *f) {
    const pk_error_info *e = pk_future_error(f);
    if (e == nullptr)
        return "no error recorded";
    return std::string(pk_err_name(e->code)) + " at rank " + std::to_string(e->rank) + ", thread " +
           std::to_string(e->thread) + ", task " + std::to_string(e->task) + ": " + e->message;
}

// The result of a task that must have succeeded, as a T.
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

// Futures that must all end cancelled: done (within 10 s), PK_ECANCELED, the
// error recorded with the future's own task number. One failure lists them all.
void ExpectCancelled(const std::vector<pk_future *> &fs, const char *when) {
    std::string ran, wrong;
    for (pk_future *f : fs) {
        ASSERT_NE(f, nullptr);
        int64_t task = pk_future_task(f);
        ASSERT_EQ(pk_future_wait(f, 10), 0) << "task " << task << " neither cancelled nor run";
        EXPECT_EQ(pk_future_done(f), 1);
        int rc = pk_future_result(f, nullptr, nullptr);
        if (rc != PK_ECANCELED) {
            ran += " " + std::to_string(task) + "(" + pk_err_name(rc) + ")";
            continue;
        }
        const pk_error_info *e = pk_future_error(f);
        if (e == nullptr || e->code != PK_ECANCELED || e->task != task)
            wrong += " " + std::to_string(task);
    }
    EXPECT_TRUE(ran.empty()) << "not started " << when << ", yet not cancelled: tasks" << ran;
    EXPECT_TRUE(wrong.empty()) << "cancelled without PK_ECANCELED and their number in "
                               << "pk_future_error: tasks" << wrong;
}

void ExpectCancelled(pk_future *f, const char *when) {
    ExpectCancelled(std::vector<pk_future *>{f}, when);
}

// ---- results ---------------------------------------------------------------------------

TEST_P(Exec, ResultsMatchTheirSubmission) {
    pk_exec *ex = Open();
    ASSERT_NE(ex, nullptr);
    constexpr int kN = 300;
    std::vector<pk_future *> fs;
    int64_t buf = 0;
    for (int i = 0; i < kN; i++) {
        buf = 7 * i + 3;
        pk_future *f = Submit("echo", &buf, sizeof buf);
        ASSERT_NE(f, nullptr);
        EXPECT_EQ(pk_future_task(f), i);
        fs.push_back(f);
    }
    buf = -1; // arguments are copied at submission
    EXPECT_EQ(pk_exec_submitted(ex), kN);
    if (Workers() == 0) { // nothing runs outside the submitter's waits
        EXPECT_TRUE(NothingRanOutsideWaits());
        EXPECT_EQ(pk_future_done(fs[0]), 0);
        EXPECT_EQ(pk_future_error(fs[0]), nullptr) << "no error while not done";
    }
    for (int i = 0; i < kN; i++) {
        Echo e = ResultOf<Echo>(fs[static_cast<size_t>(i)]);
        EXPECT_EQ(e.arg, 7 * i + 3) << "task " << i;
        EXPECT_EQ(e.square, e.arg * e.arg);
        EXPECT_EQ(e.task, i) << "pk_call_task";
        EXPECT_EQ(e.rank, 0);
        EXPECT_GE(e.thread, 0);
        EXPECT_LT(e.thread, pk_ctx_threads(ctx()));
        EXPECT_EQ(pk_future_done(fs[static_cast<size_t>(i)]), 1);
        EXPECT_EQ(pk_future_error(fs[static_cast<size_t>(i)]), nullptr);
    }
    EXPECT_EQ(pk_exec_submitted(ex), kN);
    EXPECT_EQ(pk_exec_completed(ex), kN);

    // no result set, an empty argument (NULL or not), a result set twice
    int64_t x = 5;
    pk_future *none1 = Submit("none", nullptr, 0);
    pk_future *none2 = Submit("none", &x, 0);
    pk_future *twice = Submit("twice", nullptr, 0);
    ASSERT_TRUE(none1 && none2 && twice);
    EXPECT_EQ(pk_future_task(none1), kN);
    EXPECT_EQ(pk_future_task(none2), kN + 1);
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
    // a result stays readable as long as the future lives
    const void *again = nullptr;
    EXPECT_EQ(pk_future_result(twice, &again, &len), 0);
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(std::string(static_cast<const char *>(again), len), std::string("second", 7));
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
}

TEST_P(Exec, ManySmallTasksRunExactlyOnce) {
    constexpr int64_t kN = 100000;
    ResetBoard(kN);
    pk_exec *ex = Open();
    ASSERT_NE(ex, nullptr);
    std::vector<pk_future *> fs;
    fs.reserve(kN);
    for (int64_t i = 0; i < kN; i++) {
        pk_future *f = Submit("count", i);
        ASSERT_NE(f, nullptr) << "task " << i;
        fs.push_back(f);
    }
    EXPECT_EQ(pk_exec_submitted(ex), kN);
    int64_t wrong = 0, first_wrong = -1;
    for (int64_t i = 0; i < kN; i++) {
        const void *data = nullptr;
        size_t len = 0;
        int rc = pk_future_result(fs[static_cast<size_t>(i)], &data, &len);
        bool ok = rc == 0 && len == sizeof(int64_t) && ReadI64(data) == 3 * i + 1 &&
                  pk_future_task(fs[static_cast<size_t>(i)]) == i;
        if (!ok && wrong++ == 0)
            first_wrong = i;
    }
    EXPECT_EQ(wrong, 0) << "first wrong result: task " << first_wrong;
    EXPECT_EQ(pk_exec_completed(ex), kN);
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
    EXPECT_EQ(FirstNotRunOnce(kN), "");
}

// More tasks in flight than the submitter's ring grows to (2^20 slots): the
// workers held, so nothing is taken meanwhile, the ring doubles up to its
// largest and the rest moves to the locked queue. Every task still runs once,
// with its own result.
TEST_P(Exec, MoreTasksInFlightThanTheRingHoldsRunOnceEach) {
    constexpr int64_t kN = (int64_t{1} << 20) + 5000;
    ResetBoard(kN);
    pk_exec *ex = Open();
    ASSERT_NE(ex, nullptr);
    std::vector<pk_future *> holders = FillWorkers(Workers());
    futures_.reserve(static_cast<size_t>(kN) + holders.size());
    std::vector<pk_future *> fs;
    fs.reserve(static_cast<size_t>(kN));
    for (int64_t i = 0; i < kN; i++) {
        pk_future *f = Submit("count", i);
        ASSERT_NE(f, nullptr) << "task " << i;
        fs.push_back(f);
    }
    EXPECT_EQ(pk_exec_completed(ex), 0) << "the workers were held";
    g.release = 1;
    int64_t wrong = 0, first_wrong = -1;
    for (int64_t i = 0; i < kN; i++) {
        const void *data = nullptr;
        size_t len = 0;
        pk_future *f = fs[static_cast<size_t>(i)];
        int rc = pk_future_wait(f, wrong > 0 ? 0 : 10); /* a lost task fails, not hangs */
        rc = rc == 0 ? pk_future_result(f, &data, &len) : rc;
        bool ok = rc == 0 && len == sizeof(int64_t) && ReadI64(data) == 3 * i + 1;
        if (!ok && wrong++ == 0)
            first_wrong = i;
    }
    EXPECT_EQ(wrong, 0) << "first wrong result: task " << first_wrong;
    if (wrong > 0)
        return; /* the teardown cancels what is left */
    for (pk_future *h : holders)
        EXPECT_EQ(pk_future_wait(h, 10), 0);
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
    EXPECT_EQ(FirstNotRunOnce(kN), "");
}

TEST_P(Exec, EveryWorkerThreadRunsTasks) {
    pk_exec *ex = Open();
    ASSERT_NE(ex, nullptr);
    int workers = Workers();
    std::vector<pk_future *> fs;
    for (int i = 0; i < 3 * workers + 2; i++)
        fs.push_back(Submit("meet", int64_t{workers}));
    std::set<int> threads;
    for (pk_future *f : fs) {
        Echo e = ResultOf<Echo>(f);
        EXPECT_EQ(e.rank, 0);
        threads.insert(e.thread);
    }
    if (workers == 0) {
        EXPECT_EQ(threads, std::set<int>{0}) << "the submitter runs every task";
    } else {
        for (int t = 1; t <= workers; t++)
            EXPECT_EQ(threads.count(t), 1u) << "thread " << t << " ran no task";
        EXPECT_LT(*threads.rbegin(), workers + 1);
        EXPECT_GE(*threads.begin(), 0);
    }
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
}

TEST_P(Exec, ArgumentsAndResultsOfAnySizeTravelWhole) {
    pk_exec *ex = Open();
    ASSERT_NE(ex, nullptr);
    std::vector<size_t> sizes = {1, 7, 24, 25, 1000, size_t{1} << 16, size_t{1} << 20};
    std::vector<std::vector<unsigned char>> args;
    std::vector<pk_future *> fs;
    for (size_t n : sizes) {
        std::vector<unsigned char> a(n);
        for (size_t i = 0; i < n; i++)
            a[i] = static_cast<unsigned char>((i * 131 + n) & 0xff);
        fs.push_back(Submit("reverse", a.data(), a.size()));
        args.push_back(std::move(a));
    }
    for (size_t k = 0; k < sizes.size(); k++) {
        const void *data = nullptr;
        size_t len = 0;
        ASSERT_EQ(pk_future_result(fs[k], &data, &len), 0) << Describe(fs[k]);
        ASSERT_EQ(len, sizes[k]);
        std::vector<unsigned char> want(args[k].rbegin(), args[k].rend());
        EXPECT_EQ(std::memcmp(data, want.data(), len), 0) << sizes[k] << " bytes";
    }
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
}

// ---- failures ----------------------------------------------------------------------------

TEST_P(Exec, FailuresStayWithTheirOwnFutures) {
    pk_exec *ex = Open();
    ASSERT_NE(ex, nullptr);
    constexpr int kN = 60;
    std::vector<FailArg> args;
    std::vector<pk_future *> fs;
    for (int i = 0; i < kN; i++) {
        FailArg a{i, 0, 0};
        if (i % 5 == 1)
            a.code = PK_ERANGE; // returned, no message
        if (i % 5 == 3) {
            a.code = PK_EIO; // pk_call_fail with a message
            a.message = 1;
        }
        args.push_back(a);
        fs.push_back(Submit("fail", a));
    }
    for (int i = 0; i < kN; i++) {
        SCOPED_TRACE("task " + std::to_string(i));
        pk_future *f = fs[static_cast<size_t>(i)];
        const FailArg &a = args[static_cast<size_t>(i)];
        const void *data = nullptr;
        size_t len = 0;
        int rc = pk_future_result(f, &data, &len);
        EXPECT_EQ(pk_future_done(f), 1);
        if (a.code == 0) {
            EXPECT_EQ(rc, 0) << Describe(f);
            ASSERT_EQ(len, sizeof(int64_t));
            EXPECT_EQ(ReadI64(data), 2 * i);
            EXPECT_EQ(pk_future_error(f), nullptr);
            continue;
        }
        EXPECT_EQ(rc, a.code);
        const pk_error_info *e = pk_future_error(f);
        ASSERT_NE(e, nullptr);
        EXPECT_EQ(e->code, a.code);
        EXPECT_EQ(e->task, i);
        EXPECT_EQ(e->rank, 0);
        EXPECT_GE(e->thread, 0);
        EXPECT_LT(e->thread, pk_ctx_threads(ctx()));
        if (a.message != 0) // the message the task wrote, naming where it ran
            EXPECT_EQ(std::string(e->message), FailMessage(i, e->rank, e->thread, i));
    }
    EXPECT_EQ(pk_exec_completed(ex), kN);
    // the executor goes on after failures, and closing reports none of them
    Echo e = ResultOf<Echo>(Submit("echo", int64_t{4}));
    EXPECT_EQ(e.task, kN);
    EXPECT_EQ(e.square, 16);
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
}

TEST_P(Exec, FailFastCancelsEveryTaskNotStarted) {
    constexpr int kQueued = 20;
    ResetBoard(kQueued);
    pk_exec *ex = Open(1);
    ASSERT_NE(ex, nullptr);
    int workers = Workers();
    pk_future *failing = nullptr;
    std::vector<pk_future *> holders;
    if (workers == 0) {
        failing = Submit("fail", FailArg{0, PK_EIO, 1}); // task 0: the first to run
        ASSERT_TRUE(NothingRanOutsideWaits());
    } else {
        holders = FillWorkers(workers); // every worker busy
    }
    std::vector<pk_future *> queued;
    for (int64_t i = 0; i < kQueued; i++)
        queued.push_back(Submit("count", i));
    if (workers > 0) {
        SleepMs(20);
        EXPECT_EQ(Hits(0), 0) << "a task started while every worker was busy";
        g.fail_now = 1; // one running holder fails
        ASSERT_TRUE(WaitFor([] { return g.chosen.load() >= 0; })) << "no holder failed";
        failing = holders[static_cast<size_t>(g.chosen.load())];
    }
    EXPECT_EQ(pk_future_result(failing, nullptr, nullptr), PK_EIO) << Describe(failing);
    ExpectCancelled(queued, "when the first task failed (fail-fast)");
    // no more submissions
    int64_t x = 1;
    pk_future *late = nullptr;
    EXPECT_EQ(pk_exec_submit(ex, "echo", &x, sizeof x, &late), PK_ECLOSED);
    // the holders that were running go on to the end
    g.release = 1;
    for (pk_future *h : holders) {
        if (h == failing)
            continue;
        EXPECT_EQ(ResultOf<int64_t>(h), pk_future_task(h));
    }
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0) << "a task's failure is not the executor's";
    EXPECT_EQ(HitsOtherThan(kQueued, 0), "") << "arguments of cancelled tasks that ran";
    EXPECT_EQ(g.started.load(), workers) << "a task started after the failure";
}

TEST_P(Exec, CancelOnlyWhatHasNotStarted) {
    ResetBoard(5);
    pk_exec *ex = Open();
    ASSERT_NE(ex, nullptr);
    std::vector<pk_future *> holders = FillWorkers(Workers());
    std::vector<pk_future *> q;
    for (int64_t i = 0; i < 5; i++) {
        q.push_back(Submit("count", i));
        ASSERT_NE(q.back(), nullptr);
    }
    ASSERT_TRUE(NothingRanOutsideWaits());
    Seen seen;
    seen.future = q[1];
    seen.submitter = std::this_thread::get_id();
    ASSERT_EQ(pk_future_on_done(q[1], OnDone, OnError, &seen), 0);
    EXPECT_EQ(pk_future_cancel(q[1]), 0);
    EXPECT_EQ(pk_future_cancel(q[3]), 0);
    EXPECT_EQ(pk_future_done(q[1]), 1) << "cancelled means done";
    const pk_error_info *e = pk_future_error(q[1]);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->code, PK_ECANCELED);
    EXPECT_EQ(e->task, pk_future_task(q[1]));
    for (pk_future *h : holders) // running
        EXPECT_EQ(pk_future_cancel(h), PK_EBUSY);
    g.release = 1;
    for (pk_future *h : holders)
        EXPECT_EQ(ResultOf<int64_t>(h), pk_future_task(h));
    for (int64_t i : {0, 2, 4}) {
        EXPECT_EQ(ResultOf<int64_t>(q[static_cast<size_t>(i)]), 3 * i + 1);
        EXPECT_EQ(pk_future_cancel(q[static_cast<size_t>(i)]), PK_EBUSY) << "ran";
    }
    for (pk_future *h : holders) // ran
        EXPECT_EQ(pk_future_cancel(h), PK_EBUSY);
    ExpectCancelled({q[1], q[3]}, "when pk_future_cancel returned 0");
    EXPECT_EQ(pk_exec_completed(ex), Workers() + 5) << "cancelled tasks count as done";
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
    EXPECT_EQ(Hits(0), 1);
    EXPECT_EQ(Hits(1), 0) << "a cancelled task ran";
    EXPECT_EQ(Hits(2), 1);
    EXPECT_EQ(Hits(3), 0) << "a cancelled task ran";
    EXPECT_EQ(Hits(4), 1);
    EXPECT_EQ(seen.error.load(), 1) << "on_error of the cancelled task";
    EXPECT_EQ(seen.done.load(), 0);
    EXPECT_EQ(seen.code.load(), PK_ECANCELED);
    EXPECT_EQ(seen.elsewhere.load(), 0);
}

// ---- waiting ------------------------------------------------------------------------------

TEST_P(Exec, WaitTimesOutOnATaskThatCannotFinishYet) {
    pk_exec *ex = Open();
    ASSERT_NE(ex, nullptr);
    if (Workers() == 0) {
        // the submitter runs the task inside its wait: done when the wait returns
        pk_future *f = Submit("sleep", int64_t{20});
        ASSERT_NE(f, nullptr);
        EXPECT_EQ(pk_future_wait(f, 10), 0) << Describe(f);
        EXPECT_EQ(pk_future_done(f), 1);
        EXPECT_EQ(pk_future_wait(f, 0), 0);
        int idx = -1;
        EXPECT_EQ(pk_future_wait_any(&f, 1, 0, &idx), 0);
        EXPECT_EQ(idx, 0);
        EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
        return;
    }
    std::vector<pk_future *> holders = FillWorkers(Workers());
    pk_future *h = holders[0];
    auto t0 = Clock::now();
    EXPECT_EQ(pk_future_wait(h, 0.05), PK_ETIMEDOUT);
    double waited = Since(t0);
    EXPECT_GE(waited, 0.04);
    EXPECT_LT(waited, 5.0);
    EXPECT_EQ(pk_future_wait(h, 0), PK_ETIMEDOUT);
    EXPECT_EQ(pk_future_done(h), 0);
    EXPECT_EQ(pk_future_error(h), nullptr);
    int idx = -1;
    t0 = Clock::now();
    EXPECT_EQ(pk_future_wait_any(holders.data(), static_cast<int>(holders.size()), 0.05, &idx),
              PK_ETIMEDOUT);
    EXPECT_LT(Since(t0), 5.0);
    g.release = 1;
    EXPECT_EQ(pk_future_wait(h, 20), 0);
    EXPECT_EQ(pk_future_done(h), 1);
    EXPECT_EQ(ResultOf<int64_t>(h), pk_future_task(h));
    EXPECT_EQ(pk_future_wait_any(holders.data(), static_cast<int>(holders.size()), 20, &idx), 0);
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
}

// A task's outcome reaches its future while the worker that ran it runs
// another task: a wait, a poll, the count of completed tasks and a wait on
// any see it (a round each), while every worker is held in a task begun after.
TEST_P(Exec, AnOutcomeIsSeenWhileItsWorkerRunsAnotherTask) {
    pk_exec *ex = Open();
    ASSERT_NE(ex, nullptr);
    int64_t before = 0;
    // (with no worker but the submitter, tasks run inside its waits: only the
    // first round applies)
    for (int round = 0; round < (Workers() > 0 ? 4 : 1); round++) {
        ResetBoard(1);
        pk_future *a = Submit("count", int64_t{0});
        ASSERT_NE(a, nullptr);
        std::vector<pk_future *> holders = FillWorkers(Workers());
        switch (round) {
        case 0:
            EXPECT_EQ(pk_future_wait(a, 10.0), 0) << "pk_future_wait";
            break;
        case 1:
            EXPECT_TRUE(WaitFor([&] { return pk_future_done(a) == 1; }, 10)) << "pk_future_done";
            break;
        case 2:
            EXPECT_TRUE(WaitFor([&] { return pk_exec_completed(ex) == before + 1; }, 10))
                << "pk_exec_completed";
            break;
        default: {
            int index = -1;
            EXPECT_EQ(pk_future_wait_any(&a, 1, 10.0, &index), 0) << "pk_future_wait_any";
            EXPECT_EQ(index, 0);
        }
        }
        EXPECT_EQ(pk_future_done(a), 1) << "round " << round;
        EXPECT_EQ(pk_exec_completed(ex), before + 1) << "round " << round << ": the holders run";
        for (pk_future *h : holders)
            EXPECT_EQ(pk_future_done(h), 0) << "round " << round << ": a holder ended early";
        g.release = 1;
        for (pk_future *h : holders)
            EXPECT_EQ(ResultOf<int64_t>(h), pk_future_task(h));
        EXPECT_EQ(ResultOf<int64_t>(a), 1);
        EXPECT_EQ(Hits(0), 1);
        before += 1 + static_cast<int64_t>(holders.size());
    }
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
}

TEST_P(Exec, WaitAnyReturnsEveryFutureOnce) {
    pk_exec *ex = Open();
    ASSERT_NE(ex, nullptr);
    constexpr int kN = 40;
    std::vector<pk_future *> fs;
    for (int i = 0; i < kN; i++)
        fs.push_back(Submit("sleep", int64_t{(i * 7) % 5}));
    std::vector<pk_future *> left = fs;
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
    EXPECT_EQ(pk_future_wait_any(left.data(), kN, 0, &idx), PK_EINVAL) << "every entry NULL";
    // all done: the first non-NULL entry comes back at once, in array order
    std::vector<pk_future *> again = fs;
    again[0] = nullptr;
    for (int k = 1; k < kN; k++) {
        idx = -1;
        ASSERT_EQ(pk_future_wait_any(again.data(), kN, 0, &idx), 0);
        EXPECT_EQ(idx, k);
        again[static_cast<size_t>(k)] = nullptr;
    }
    for (int i = 0; i < kN; i++)
        EXPECT_EQ(ResultOf<int64_t>(fs[static_cast<size_t>(i)]), (i * 7) % 5);
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
}

TEST_P(Exec, CallbacksRunOnTheSubmitterOnceEach) {
    pk_exec *ex = Open();
    ASSERT_NE(ex, nullptr);
    constexpr int kN = 40;
    std::vector<std::unique_ptr<Seen>> seen;
    std::vector<pk_future *> fs;
    for (int i = 0; i < kN; i++) {
        FailArg a{i, i % 4 == 0 ? PK_EIO : 0, 1};
        pk_future *f = Submit("fail", a);
        ASSERT_NE(f, nullptr);
        seen.push_back(std::make_unique<Seen>());
        seen.back()->future = f;
        seen.back()->submitter = std::this_thread::get_id();
        ASSERT_EQ(pk_future_on_done(f, OnDone, OnError, seen.back().get()), 0);
        fs.push_back(f);
    }
    // tasks finish on the workers meanwhile: no callback runs outside the
    // submitter's executor calls
    auto ran = [&] {
        int n = 0;
        for (auto &s : seen)
            n += s->done.load() + s->error.load();
        return n;
    };
    int before = ran();
    SleepMs(50);
    EXPECT_EQ(ran(), before) << "callbacks ran while the submitter made no executor call";
    for (pk_future *f : fs)
        pk_future_result(f, nullptr, nullptr);
    for (pk_future *f : fs) // more executor calls, after every task is done
        EXPECT_EQ(pk_future_done(f), 1);
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
    // set on a future already done (none set before): runs at the next
    // executor call, once; on_done only after a success, on_error only after a
    // failure
    pk_future *ok_done = Submit("fail", FailArg{7, 0, 0});
    pk_future *bad_done = Submit("fail", FailArg{8, PK_ERANGE, 0});
    ASSERT_TRUE(ok_done && bad_done);
    EXPECT_EQ(pk_future_result(ok_done, nullptr, nullptr), 0);
    EXPECT_EQ(pk_future_result(bad_done, nullptr, nullptr), PK_ERANGE);
    Seen late_ok, late_bad;
    late_ok.future = ok_done;
    late_bad.future = bad_done;
    late_ok.submitter = late_bad.submitter = std::this_thread::get_id();
    ASSERT_EQ(pk_future_on_done(ok_done, OnDone, OnError, &late_ok), 0);
    ASSERT_EQ(pk_future_on_done(bad_done, OnDone, nullptr, &late_bad), 0); // no on_error
    EXPECT_EQ(pk_future_done(ok_done), 1);
    EXPECT_EQ(pk_future_done(bad_done), 1);
    EXPECT_EQ(late_ok.done.load(), 1);
    EXPECT_EQ(late_ok.error.load(), 0);
    EXPECT_EQ(late_bad.done.load(), 0) << "on_done after a failure";
    EXPECT_EQ(late_bad.error.load(), 0);
    EXPECT_EQ(pk_future_done(ok_done), 1);
    EXPECT_EQ(late_ok.done.load(), 1) << "a callback ran twice";
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
    for (int i = 0; i < kN; i++) // closing ran none of them again
        EXPECT_EQ(seen[static_cast<size_t>(i)]->done.load() +
                      seen[static_cast<size_t>(i)]->error.load(),
                  1)
            << "task " << i;
    EXPECT_EQ(late_ok.done.load(), 1);
    EXPECT_EQ(late_ok.elsewhere.load() + late_bad.elsewhere.load(), 0);
}

// ---- map --------------------------------------------------------------------------------

TEST_P(Exec, MapReturnsResultsInOrderWithErrorsPerElement) {
    pk_exec *ex = Open();
    ASSERT_NE(ex, nullptr);
    ResultOf<Echo>(Submit("echo", int64_t{1})); // tasks 0 and 1 before the maps
    ResultOf<Echo>(Submit("echo", int64_t{2}));
    constexpr int64_t kN = 500;
    std::vector<int64_t> xs(kN);
    for (int64_t i = 0; i < kN; i++)
        xs[static_cast<size_t>(i)] = 5 * i + 1; // x % 7 == 3 for i = 6, 13, 20, ...
    pk_map_iter *it = nullptr;
    ASSERT_EQ(pk_exec_map(ex, "square_or_fail", xs.data(), sizeof(int64_t), kN, 3, 4, &it), 0)
        << ErrorString();
    ASSERT_NE(it, nullptr);
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
        ASSERT_EQ(len, sizeof(Echo)) << "element " << i;
        Echo e;
        std::memcpy(&e, data, sizeof e);
        EXPECT_EQ(e.arg, x) << "element " << i << ": out of order";
        EXPECT_EQ(e.square, x * x);
        EXPECT_EQ(e.task, 2 + i) << "a map of n arguments takes n numbers";
    }
    EXPECT_EQ(pk_map_next(it, nullptr, nullptr, nullptr), PK_ECLOSED);
    EXPECT_EQ(pk_map_next(it, nullptr, nullptr, nullptr), PK_ECLOSED);
    pk_map_free(it);
    EXPECT_EQ(g.map_ran.load(), kN);

    // max_in_flight 1, chunk 1: one element at a time, whatever the workers
    constexpr int64_t kOne = 60;
    g.map_ran = 0;
    g.max_running = 0;
    g.map_sleep_us = 300;
    it = nullptr;
    ASSERT_EQ(pk_exec_map(ex, "square_or_fail", xs.data(), sizeof(int64_t), kOne, 1, 1, &it), 0);
    for (int64_t i = 0; i < kOne; i++) {
        int task_rc = 99;
        ASSERT_EQ(pk_map_next(it, nullptr, nullptr, &task_rc), 0);
        EXPECT_EQ(task_rc, xs[static_cast<size_t>(i)] % 7 == 3 ? PK_ERANGE : 0);
    }
    EXPECT_EQ(pk_map_next(it, nullptr, nullptr, nullptr), PK_ECLOSED);
    pk_map_free(it);
    EXPECT_EQ(g.max_running.load(), 1) << "more than max_in_flight x chunk elements ran at once";

    // max_in_flight 2, chunk 3: at most 6 at once
    g.max_running = 0;
    it = nullptr;
    ASSERT_EQ(pk_exec_map(ex, "square_or_fail", xs.data(), sizeof(int64_t), kOne, 2, 3, &it), 0);
    for (int64_t i = 0; i < kOne; i++)
        ASSERT_EQ(pk_map_next(it, nullptr, nullptr, nullptr), 0);
    EXPECT_EQ(pk_map_next(it, nullptr, nullptr, nullptr), PK_ECLOSED);
    pk_map_free(it);
    EXPECT_LE(g.max_running.load(), 6);
    g.map_sleep_us = 0;

    // the defaults (0, 0), and an empty map
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

    // numbering goes on after the maps (a number per argument); a chunk of
    // arguments is one task submitted
    int64_t before = 2 + kN + 2 * kOne + 50;
    Echo after = ResultOf<Echo>(Submit("echo", int64_t{3}));
    EXPECT_EQ(after.task, before);
    int64_t tasks = 2 + (kN + 3) / 4 + kOne + (kOne + 2) / 3 + 50 + 1;
    EXPECT_EQ(pk_exec_submitted(ex), tasks);
    EXPECT_EQ(pk_exec_completed(ex), tasks);
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
}

TEST_P(Exec, MapFreedEarlyCancelsTheRest) {
    pk_exec *ex = Open();
    ASSERT_NE(ex, nullptr);
    constexpr int64_t kN = 20000;
    std::vector<int64_t> xs(kN);
    for (int64_t i = 0; i < kN; i++)
        xs[static_cast<size_t>(i)] = 7 * i; // never unlucky
    g.map_sleep_us = 100;
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
    // freed before its first result
    it = nullptr;
    ASSERT_EQ(pk_exec_map(ex, "square_or_fail", xs.data(), sizeof(int64_t), kN, 2, 4, &it), 0);
    pk_map_free(it);
    pk_map_free(nullptr);
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
    int ran = g.map_ran.load();
    EXPECT_GE(ran, 5);
    EXPECT_LE(ran, 5 + 2 * 4 + 64 * 2 * 4) << "the map ran far ahead of its bound: not lazy";
}

// ---- tasks that submit tasks ----------------------------------------------------------------

TEST_P(Exec, NestedTasksCombineTheirResults) {
    pk_exec *ex = Open();
    ASSERT_NE(ex, nullptr);
    std::vector<pk_future *> fs;
    for (int64_t n = 0; n <= 15; n++) {
        fs.push_back(Submit("fib", n));
        EXPECT_EQ(pk_future_task(fs.back()), n) << "top-level numbers";
    }
    for (int64_t n = 0; n <= 15; n++) {
        FibResult r = ResultOf<FibResult>(fs[static_cast<size_t>(n)]);
        EXPECT_EQ(r.value, Fib(n)) << "fib(" << n << ")";
        EXPECT_EQ(r.bad, 0) << "nested task numbers outside [2^40, 2^41) under fib(" << n << ")";
    }
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
}

TEST_P(Exec, WorkersWaitingOnNestedTasksNeverDeadlock) {
    pk_exec *ex = Open();
    ASSERT_NE(ex, nullptr);
    int workers = Workers();
    // every worker takes a parent, and none goes on before all have: their
    // children find no free worker and must run inline in their parents
    ParentArg a{8, workers};
    std::vector<pk_future *> fs;
    for (int i = 0; i < workers + 2; i++)
        fs.push_back(Submit("parent", a));
    for (pk_future *f : fs)
        ASSERT_EQ(pk_future_wait(f, 30), 0) << "parents waiting on their children: deadlock";
    for (pk_future *f : fs)
        EXPECT_EQ(ResultOf<int64_t>(f), 1 + 4 + 9 + 16 + 25 + 36 + 49 + 64);
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
}

// ---- shutdown ------------------------------------------------------------------------------

TEST_P(Exec, CloseWaitRunsEveryTaskAndFuturesOutliveTheExecutor) {
    constexpr int64_t kN = 500;
    ResetBoard(kN);
    pk_exec *ex = Open();
    ASSERT_NE(ex, nullptr);
    std::vector<pk_future *> fs;
    for (int64_t i = 0; i < kN; i++)
        fs.push_back(Submit("count", i));
    std::vector<pk_future *> fibs; // nested tasks in flight at close
    for (int64_t n : {10, 12, 13})
        fibs.push_back(Submit("fib", n));
    ASSERT_EQ(Close(PK_EXEC_WAIT), 0);
    for (int64_t i = 0; i < kN; i++) {
        pk_future *f = fs[static_cast<size_t>(i)];
        ASSERT_EQ(pk_future_done(f), 1) << "task " << i << " not run by close";
        EXPECT_EQ(ResultOf<int64_t>(f), 3 * i + 1);
    }
    EXPECT_EQ(HitsOtherThan(kN, 1), "") << "arguments not run exactly once";
    EXPECT_EQ(ResultOf<FibResult>(fibs[0]).value, 55);
    EXPECT_EQ(ResultOf<FibResult>(fibs[1]).value, 144);
    EXPECT_EQ(ResultOf<FibResult>(fibs[2]).value, 233);
    EXPECT_EQ(pk_exec_close(nullptr, PK_EXEC_WAIT), 0);
}

// Futures' memory is reused: by the same executor's next submissions once
// freed, and by the next executor once the first closed. Futures held past a
// close keep their results through the next executors' runs, and freeing them
// afterwards frees their memory once (the sanitizer builds check that).
TEST_P(Exec, FutureMemoryIsReusedWithoutMixingExecutors) {
    constexpr int64_t kN = 300; // several slabs' worth
    ResetBoard(4 * kN);
    ASSERT_NE(Open(), nullptr);
    std::vector<pk_future *> first;
    for (int64_t i = 0; i < kN; i++)
        first.push_back(Submit("count", i));
    for (int64_t i = 0; i < kN; i++)
        ASSERT_EQ(ResultOf<int64_t>(first[static_cast<size_t>(i)]), 3 * i + 1) << "task " << i;
    for (int64_t i = 0; i < kN / 2; i++) // half freed now: their memory is reused...
        Free(first[static_cast<size_t>(i)]);
    std::vector<pk_future *> again; // ...here
    for (int64_t i = kN; i < 2 * kN; i++)
        again.push_back(Submit("count", i));
    for (int64_t i = kN; i < 2 * kN; i++)
        ASSERT_EQ(ResultOf<int64_t>(again[static_cast<size_t>(i - kN)]), 3 * i + 1) << "task " << i;
    for (pk_future *f : again)
        Free(f);
    ASSERT_EQ(Close(PK_EXEC_WAIT), 0);
    // a second and third executor on the same context, while the first's
    // second half is still held
    for (int round = 2; round <= 3; round++) {
        ASSERT_NE(Open(), nullptr);
        std::vector<pk_future *> next;
        for (int64_t i = round * kN; i < (round + 1) * kN; i++)
            next.push_back(Submit("count", i));
        ASSERT_EQ(Close(PK_EXEC_WAIT), 0);
        for (int64_t i = round * kN; i < (round + 1) * kN; i++) {
            pk_future *f = next[static_cast<size_t>(i - round * kN)];
            ASSERT_EQ(pk_future_done(f), 1);
            EXPECT_EQ(ResultOf<int64_t>(f), 3 * i + 1) << "round " << round << ", task " << i;
            Free(f);
        }
    }
    for (int64_t i = kN / 2; i < kN; i++) {
        pk_future *f = first[static_cast<size_t>(i)];
        ASSERT_EQ(pk_future_done(f), 1);
        EXPECT_EQ(pk_future_task(f), i);
        EXPECT_EQ(ResultOf<int64_t>(f), 3 * i + 1) << "a future held since the first executor";
        Free(f);
    }
    EXPECT_EQ(HitsOtherThan(4 * kN, 1), "") << "arguments not run exactly once";
}

TEST_P(Exec, CloseCancelCancelsWhatHasNotStarted) {
    constexpr int64_t kN = 30;
    ResetBoard(kN);
    pk_exec *ex = Open();
    ASSERT_NE(ex, nullptr);
    std::vector<pk_future *> holders = FillWorkers(Workers());
    std::vector<pk_future *> fs;
    for (int64_t i = 0; i < kN; i++) {
        fs.push_back(Submit("count", i));
        ASSERT_NE(fs.back(), nullptr);
    }
    ASSERT_TRUE(NothingRanOutsideWaits());
    std::thread releaser([] {
        SleepMs(150);
        g.release = 1;
    });
    int rc = Close(PK_EXEC_CANCEL);
    releaser.join();
    EXPECT_EQ(rc, 0);
    for (pk_future *h : holders) { // running at close: waited for
        EXPECT_EQ(pk_future_done(h), 1);
        EXPECT_EQ(ResultOf<int64_t>(h), pk_future_task(h));
    }
    ExpectCancelled(fs, "at pk_exec_close(PK_EXEC_CANCEL)");
    EXPECT_EQ(HitsOtherThan(kN, 0), "") << "arguments of tasks that ran after PK_EXEC_CANCEL";
}

TEST_P(Exec, FreeingAFutureEarlyDropsOnlyItsResult) {
    constexpr int64_t kN = 10;
    ResetBoard(kN);
    pk_exec *ex = Open();
    ASSERT_NE(ex, nullptr);
    std::vector<pk_future *> holders = FillWorkers(Workers());
    for (pk_future *h : holders) // running: they run on
        Free(h);
    std::vector<pk_future *> fs;
    for (int64_t i = 0; i < kN; i++)
        fs.push_back(Submit("count", i));
    for (int64_t i = 0; i < kN; i += 2)
        Free(fs[static_cast<size_t>(i)]);
    g.release = 1;
    for (int64_t i = 1; i < kN; i += 2)
        EXPECT_EQ(ResultOf<int64_t>(fs[static_cast<size_t>(i)]), 3 * i + 1);
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
    for (int64_t i = 0; i < kN; i++) {
        if (i % 2 == 1)
            EXPECT_EQ(Hits(i), 1) << "task " << i;
        else // freed before it ran: it may run or not, never twice
            EXPECT_LE(Hits(i), 1) << "task " << i;
    }
    EXPECT_EQ(g.started.load(), Workers());
}

// Futures freed by the submitter are reused for later submissions: rounds of
// submissions where some futures are freed before their task ran and the others
// after their result was read; every result still belongs to its own task.
TEST_P(Exec, FreedFuturesComeBackWithoutMixingResults) {
    constexpr int64_t kPerRound = 2000, kRounds = 5;
    ResetBoard(kPerRound * kRounds);
    pk_exec *ex = Open();
    ASSERT_NE(ex, nullptr);
    int64_t wrong = 0, first_wrong = -1;
    for (int64_t r = 0; r < kRounds; r++) {
        std::vector<pk_future *> fs;
        for (int64_t i = 0; i < kPerRound; i++) {
            int64_t num = r * kPerRound + i;
            pk_future *f = Submit("count", num);
            ASSERT_NE(f, nullptr) << "task " << num;
            EXPECT_EQ(pk_future_task(f), num);
            if (i % 3 == 0) { // freed at once, most before they ran
                Free(f);
                f = nullptr;
            }
            fs.push_back(f);
        }
        for (int64_t i = 0; i < kPerRound; i++) {
            pk_future *f = fs[static_cast<size_t>(i)];
            if (f == nullptr)
                continue;
            int64_t num = r * kPerRound + i;
            const void *data = nullptr;
            size_t len = 0;
            int rc = pk_future_result(f, &data, &len);
            bool ok = rc == 0 && len == sizeof(int64_t) && ReadI64(data) == 3 * num + 1 &&
                      pk_future_task(f) == num;
            if (!ok && wrong++ == 0)
                first_wrong = num;
            Free(f);
        }
    }
    EXPECT_EQ(wrong, 0) << "first wrong result: task " << first_wrong;
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
    for (int64_t i = 0; i < kPerRound * kRounds; i++)
        EXPECT_LE(Hits(i), 1) << "task " << i;
    for (int64_t r = 0; r < kRounds; r++)
        for (int64_t i = 0; i < kPerRound; i++)
            if (i % 3 != 0) // waited for: ran once
                EXPECT_EQ(Hits(r * kPerRound + i), 1) << "task " << r * kPerRound + i;
}

// ---- faults ---------------------------------------------------------------------------------

TEST_P(Exec, InjectedFaultFailsExactlyThatFuture) {
    struct Case {
        std::string spec;
        int64_t task; // -1: fires nowhere
        int thread;   // -1: any
    };
    int threads = pk_ctx_threads(ctx());
    std::vector<Case> cases = {{"task=5", 5, -1},
                               {"kernel=exec,task=2", 2, -1},
                               {"rank=0,task=9", 9, -1},
                               {"kernel=sieve,task=2", -1, -1}};
    if (threads >= 2)
        cases.push_back({"thread=" + std::to_string(threads - 1) + ",task=3", 3, threads - 1});
    else
        cases.push_back({"thread=0,task=3", 3, 0});
    for (const Case &c : cases) {
        SCOPED_TRACE(c.spec);
        ASSERT_EQ(pk_ctx_set_fault(ctx(), c.spec.c_str()), 0);
        pk_exec *ex = Open();
        ASSERT_NE(ex, nullptr);
        std::vector<pk_future *> fs;
        for (int64_t i = 0; i < 12; i++)
            fs.push_back(Submit("echo", i));
        for (int64_t i = 0; i < 12; i++) {
            pk_future *f = fs[static_cast<size_t>(i)];
            if (i != c.task) {
                EXPECT_EQ(ResultOf<Echo>(f).square, i * i);
                continue;
            }
            EXPECT_EQ(pk_future_result(f, nullptr, nullptr), PK_EINJECTED) << "task " << i;
            const pk_error_info *e = pk_future_error(f);
            ASSERT_NE(e, nullptr);
            EXPECT_EQ(e->code, PK_EINJECTED);
            EXPECT_EQ(e->task, c.task);
            EXPECT_EQ(e->rank, 0);
            if (c.thread >= 0)
                EXPECT_EQ(e->thread, c.thread);
        }
        EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
        ASSERT_EQ(pk_ctx_set_fault(ctx(), nullptr), 0);
    }
}

TEST_P(Exec, AFailureWhileTheSubmitterWaitsElsewhereEndsPromptly) {
    {
        pk_exec *ex = Open();
        ASSERT_NE(ex, nullptr);
        pk_future *slow = Submit("sleep", int64_t{300});
        pk_future *bad = Submit("fail", FailArg{1, PK_EIO, 1});
        auto t0 = Clock::now();
        EXPECT_EQ(ResultOf<int64_t>(slow), 300);
        EXPECT_LT(Since(t0), 5.0);
        EXPECT_EQ(pk_future_result(bad, nullptr, nullptr), PK_EIO);
        EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
    }
    // fail-fast: the task waited on is cancelled by another's failure
    pk_exec *ex = Open(1);
    ASSERT_NE(ex, nullptr);
    int workers = Workers();
    if (workers == 0) {
        pk_future *bad = Submit("fail", FailArg{1, PK_EIO, 1});
        ASSERT_TRUE(NothingRanOutsideWaits());
        pk_future *waited = Submit("echo", int64_t{9});
        ASSERT_NE(waited, nullptr);
        auto t0 = Clock::now();
        int rc = pk_future_result(waited, nullptr, nullptr);
        EXPECT_TRUE(rc == 0 || rc == PK_ECANCELED) << pk_err_name(rc);
        EXPECT_LT(Since(t0), 5.0);
        EXPECT_EQ(pk_future_result(bad, nullptr, nullptr), PK_EIO);
    } else {
        std::vector<pk_future *> holders = FillWorkers(workers);
        pk_future *waited = Submit("echo", int64_t{9});
        std::thread failer([] {
            SleepMs(100);
            g.fail_now = 1;
        });
        auto t0 = Clock::now();
        int rc = pk_future_wait(waited, 20);
        double took = Since(t0);
        failer.join();
        EXPECT_EQ(rc, 0) << "the wait did not end when the failure cancelled the task";
        EXPECT_LT(took, 5.0);
        ExpectCancelled(waited, "when another task failed (fail-fast)");
        g.release = 1;
    }
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
}

// ---- misuse ----------------------------------------------------------------------------------

TEST_P(Exec, MisuseIsRefused) {
    EXPECT_EQ(pk_exec_register(nullptr, EchoTask), PK_EINVAL);
    EXPECT_EQ(pk_exec_register("echo_again", nullptr), PK_EINVAL);
    EXPECT_EQ(pk_exec_register("", EchoTask), PK_EINVAL);
    std::string name63(63, 'e'), name64(64, 'e');
    EXPECT_EQ(pk_exec_register(name63.c_str(), EchoTask), 0);
    EXPECT_EQ(pk_exec_register(name64.c_str(), EchoTask), PK_EINVAL);
    pk_exec *ex = nullptr;
    EXPECT_EQ(pk_exec_open(nullptr, &ex, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_exec_open(ctx(), nullptr, nullptr), PK_EINVAL);
    ASSERT_EQ(pk_exec_open(ctx(), &ex, nullptr), 0) << "opts may be NULL";
    ASSERT_NE(ex, nullptr);
    ex_ = ex;

    int64_t x = 3;
    pk_future *f = nullptr;
    EXPECT_EQ(pk_exec_submit(ex, "no such task", &x, sizeof x, &f), PK_ENOENT);
    EXPECT_EQ(pk_exec_submit(nullptr, "echo", &x, sizeof x, &f), PK_EINVAL);
    EXPECT_EQ(pk_exec_submit(ex, nullptr, &x, sizeof x, &f), PK_EINVAL);
    EXPECT_EQ(pk_exec_submit(ex, "echo", nullptr, sizeof x, &f), PK_EINVAL);
    EXPECT_EQ(pk_exec_submit(ex, "echo", &x, sizeof x, nullptr), PK_EINVAL);
    Echo e = ResultOf<Echo>(Submit(name63.c_str(), x)); // the longest name runs
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
    pk_future *done = Submit("echo", x);
    ASSERT_NE(done, nullptr);
    ResultOf<Echo>(done);
    EXPECT_EQ(pk_future_wait_any(&done, 1, 0, nullptr), PK_EINVAL);
    pk_future_free(nullptr);

    int64_t xs[4] = {1, 2, 3, 4};
    pk_map_iter *it = nullptr;
    EXPECT_EQ(pk_exec_map(nullptr, "echo", xs, sizeof xs[0], 4, 0, 0, &it), PK_EINVAL);
    EXPECT_EQ(pk_exec_map(ex, nullptr, xs, sizeof xs[0], 4, 0, 0, &it), PK_EINVAL);
    EXPECT_EQ(pk_exec_map(ex, "no such task", xs, sizeof xs[0], 4, 0, 0, &it), PK_ENOENT);
    EXPECT_EQ(pk_exec_map(ex, "echo", nullptr, sizeof xs[0], 4, 0, 0, &it), PK_EINVAL);
    EXPECT_EQ(pk_exec_map(ex, "echo", xs, sizeof xs[0], 4, 0, 0, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_exec_map(ex, "echo", xs, sizeof xs[0], -1, 0, 0, &it), PK_EINVAL);
    EXPECT_EQ(pk_exec_map(ex, "echo", xs, sizeof xs[0], 4, -1, 0, &it), PK_EINVAL);
    EXPECT_EQ(pk_exec_map(ex, "echo", xs, sizeof xs[0], 4, 0, -1, &it), PK_EINVAL);
    EXPECT_EQ(pk_map_next(nullptr, nullptr, nullptr, nullptr), PK_EINVAL);
    pk_map_free(nullptr);

    // from a thread other than the submitter
    ExpectRefusedFromAnotherThread(ex, "echo");

    // from inside a task
    pk_future *inside = Submit("misuse", nullptr, 0);
    ASSERT_NE(inside, nullptr);
    const void *data = nullptr;
    size_t len = 0;
    ASSERT_EQ(pk_future_result(inside, &data, &len), 0) << Describe(inside);
    ASSERT_EQ(len, 6 * sizeof(int32_t));
    int32_t rcs[6];
    std::memcpy(rcs, data, sizeof rcs);
    EXPECT_EQ(rcs[0], PK_ENOENT) << "pk_call_submit of an unknown name";
    EXPECT_EQ(rcs[1], PK_EINVAL) << "pk_call_submit, name NULL";
    EXPECT_EQ(rcs[2], PK_EINVAL) << "pk_call_submit, arg NULL with a length";
    EXPECT_EQ(rcs[3], PK_EINVAL) << "pk_call_submit, future NULL";
    EXPECT_EQ(rcs[4], PK_EINVAL) << "pk_call_submit, call NULL";
    EXPECT_EQ(rcs[5], PK_EINVAL) << "pk_call_return, data NULL with a length";

    // a task may not wait on the submitter's futures
    pk_future *perm = Submit("perm", &done, sizeof done);
    ASSERT_NE(perm, nullptr);
    ASSERT_EQ(pk_future_wait(perm, 20), 0) << "a task waiting on the submitter's future hung";
    ASSERT_EQ(pk_future_result(perm, &data, &len), 0) << Describe(perm);
    ASSERT_EQ(len, 4 * sizeof(int32_t));
    int32_t perms[4];
    std::memcpy(perms, data, sizeof perms);
    EXPECT_EQ(perms[0], PK_EPERM) << "pk_future_wait(0) from a task";
    EXPECT_EQ(perms[1], PK_EPERM) << "pk_future_wait(5) from a task";
    EXPECT_EQ(perms[2], PK_EPERM) << "pk_future_result from a task";
    EXPECT_EQ(perms[3], PK_EPERM) << "pk_future_wait_any from a task";
    EXPECT_EQ(pk_future_result(done, nullptr, nullptr), 0) << "still the submitter's";
    EXPECT_EQ(Close(PK_EXEC_WAIT), 0);
}

} // namespace

INSTANTIATE_TEST_SUITE_P(Pools, Exec, testing::ValuesIn(AllPools()), PoolName);
