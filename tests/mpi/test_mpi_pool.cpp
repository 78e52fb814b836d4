// The pool primitives on ranks against the serial backend: pk_for visits every
// index once; pk_map_reduce's outputs land on rank 0, on every rank or stay
// distributed, and its reductions (floating point, 128-bit, big integers that
// travel packed) are bit-identical to the serial ones for any rank count and
// schedule; pk_tasks returns plain and packed results in task order; pk_team
// puts worker w on rank w. Message pieces are made tiny in some tests so that
// the transfers beyond the MPI count limit take their piecewise path.
#include <gmp.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "mpi_internal.h"
#include "mpi_test_util.h"

namespace {

struct Schedule {
    int schedule;
    int64_t chunk;
};

std::vector<Schedule> Schedules() {
    return {{PK_STATIC, 0}, {PK_STATIC, 7}, {PK_DYNAMIC, 1}, {PK_DYNAMIC, 13}};
}

pk_opts Opts(const Schedule &s, int where = PK_ON_ROOT) {
    pk_opts o = {};
    o.schedule = s.schedule;
    o.chunk = s.chunk;
    o.where = where;
    return o;
}

// ---- pk_for ----

struct Visits {
    std::vector<int64_t> count;
    std::vector<int64_t> rank;
};

int Visit(void *arg, int64_t b, int64_t e, pk_worker *w) {
    auto *v = static_cast<Visits *>(arg);
    for (int64_t i = b; i < e; i++) {
        __atomic_add_fetch(&v->count[static_cast<size_t>(i)], 1, __ATOMIC_RELAXED);
        v->rank[static_cast<size_t>(i)] = w->rank;
    }
    return 0;
}

} // namespace

TEST(MpiPool, ForVisitsEveryIndexOnce) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    for (int64_t n : {0, 1, 5, 1000, 100003}) {
        for (const Schedule &s : Schedules()) {
            Visits v;
            v.count.assign(static_cast<size_t>(n), 0);
            v.rank.assign(static_cast<size_t>(n), -1);
            pk_opts o = Opts(s);
            ASSERT_EQ(pk_for(ctx.get(), n, &o, Visit, &v), 0) << ErrorText(ctx.get());
            std::vector<int64_t> total(static_cast<size_t>(n), 0);
            MPI_Allreduce(v.count.data(), total.data(), static_cast<int>(n), MPI_INT64_T, MPI_SUM,
                          MPI_COMM_WORLD);
            int64_t wrong = 0;
            for (int64_t c : total)
                wrong += c != 1;
            EXPECT_EQ(wrong, 0) << "n " << n << " schedule " << s.schedule << " chunk " << s.chunk;
            if (s.schedule == PK_STATIC) { // the static block is pk_local_range's
                int64_t b, e, outside = 0;
                ASSERT_EQ(pk_local_range(ctx.get(), n, &o, &b, &e), 0);
                for (int64_t i = 0; i < n; i++)
                    outside += (v.count[static_cast<size_t>(i)] == 1) != (i >= b && i < e);
                EXPECT_EQ(outside, 0) << "n " << n;
            }
        }
    }
}

// ---- pk_map_reduce ----

namespace {

struct Elem { // 24 bytes: outputs need not be one word
    int64_t i;
    double x;
    int64_t sq;
};

// Terms whose sum depends on the order of additions. Not inlined, so that no
// multiply-add is fused into the sum differently with and without an output.
__attribute__((noinline)) double Wobbly(int64_t i) {
    return std::sin(static_cast<double>(i) * 0.618) / static_cast<double>(i + 1) * 1e6;
}

int MapElems(void *, int64_t b, int64_t e, void *out, void *acc, pk_worker *) {
    auto *o = static_cast<Elem *>(out);
    double s = 0;
    for (int64_t i = b; i < e; i++) {
        if (o != nullptr)
            o[i - b] = Elem{i, Wobbly(i), i * i};
        s += Wobbly(i);
    }
    if (acc != nullptr)
        *static_cast<double *>(acc) = s;
    return 0;
}

bool ElemOk(const Elem &x, int64_t i) {
    return x.i == i && x.x == Wobbly(i) && x.sq == i * i;
}

int64_t BadElems(const std::vector<Elem> &v, int64_t from, int64_t to, int64_t base) {
    int64_t bad = 0;
    for (int64_t i = from; i < to; i++)
        bad += !ElemOk(v[static_cast<size_t>(i - base)], i);
    return bad;
}

double SerialSum(int64_t n, const pk_opts &o) {
    MpiCtx serial = SerialCtx();
    double s = 0;
    EXPECT_EQ(pk_map_reduce(serial.get(), n, &o, MapElems, nullptr, 0, nullptr, &pk_sum_f64, &s),
              0);
    return s;
}

} // namespace

TEST(MpiPool, MapOutputsOnRootOnAllAndDistributed) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    const int64_t n = 20011;
    for (const Schedule &s : Schedules()) {
        for (int where : {PK_ON_ROOT, PK_ON_ALL, PK_DISTRIBUTED}) {
            pk_opts o = Opts(s, where);
            int64_t b = 0, e = n;
            if (where == PK_DISTRIBUTED)
                ASSERT_EQ(pk_local_range(ctx.get(), n, &o, &b, &e), 0);
            bool holds = where != PK_ON_ROOT || WorldRank() == 0;
            std::vector<Elem> out(holds ? static_cast<size_t>(e - b > 0 ? e - b : 1) : 0);
            double sum = 0;
            ASSERT_EQ(pk_map_reduce(ctx.get(), n, &o, MapElems, nullptr, sizeof(Elem),
                                    holds ? out.data() : nullptr, &pk_sum_f64, &sum),
                      0)
                << ErrorText(ctx.get());
            if (holds)
                EXPECT_EQ(BadElems(out, b, e, b), 0)
                    << "where " << where << " sched " << s.schedule;
            EXPECT_EQ(sum, SerialSum(n, o))
                << "bit-identical, on every rank; where " << where << " sched " << s.schedule;
            if (where == PK_DISTRIBUTED) // the parts tile [0, n)
                EXPECT_EQ(SumOverRanks(e - b), n);
        }
    }
}

TEST(MpiPool, TransfersInPiecesAreWhole) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    pk__mpi_set_max_message(1000); // every block goes in many messages
    const int64_t n = 5003;
    for (const Schedule &s : Schedules()) {
        for (int where : {PK_ON_ROOT, PK_ON_ALL}) {
            pk_opts o = Opts(s, where);
            bool holds = where == PK_ON_ALL || WorldRank() == 0;
            std::vector<Elem> out(holds ? static_cast<size_t>(n) : 0);
            EXPECT_EQ(pk_map_reduce(ctx.get(), n, &o, MapElems, nullptr, sizeof(Elem),
                                    holds ? out.data() : nullptr, nullptr, nullptr),
                      0)
                << ErrorText(ctx.get());
            if (holds)
                EXPECT_EQ(BadElems(out, 0, n, 0), 0);
        }
    }
    pk__mpi_set_max_message(0);
}

TEST(MpiPool, ReductionIsTheSameForAnyRankCount) {
    const int64_t n = 100003;
    for (const Schedule &s : Schedules()) {
        pk_opts o = Opts(s, PK_ON_ALL);
        double want = SerialSum(n, o);
        int64_t differ = 0;
        for (int k = 1; k <= WorldSize(); k++) {
            MpiCtx part = FirstRanksCtx(k); // collective on every rank
            if (!part)
                continue;
            double got = 0;
            EXPECT_EQ(
                pk_map_reduce(part.get(), n, &o, MapElems, nullptr, 0, nullptr, &pk_sum_f64, &got),
                0);
            differ += std::memcmp(&got, &want, sizeof got) != 0;
        }
        EXPECT_EQ(differ, 0) << "schedule " << s.schedule << " chunk " << s.chunk;
    }
}

namespace {

// A product of big integers: a heavy reducer whose values travel packed.
int MpzInit(void *v, void *) {
    mpz_init_set_ui(*static_cast<mpz_t *>(v), 1);
    return 0;
}
void MpzClear(void *v, void *) {
    mpz_clear(*static_cast<mpz_t *>(v));
}
int MpzPack(const void *v, void **buf, size_t *len, void *) {
    const mpz_t &x = *static_cast<const mpz_t *>(v);
    size_t words = (mpz_sizeinbase(x, 2) + 63) / 64;
    *buf = std::malloc(words * 8 + 1);
    if (*buf == nullptr)
        return PK_ENOMEM;
    size_t count = 0;
    mpz_export(static_cast<char *>(*buf) + 1, &count, -1, 8, 0, 0, x);
    static_cast<char *>(*buf)[0] = static_cast<char>(mpz_sgn(x) < 0);
    *len = count * 8 + 1;
    return 0;
}
int MpzUnpack(void *v, const void *buf, size_t len, void *) {
    mpz_t &x = *static_cast<mpz_t *>(v);
    if (len < 1)
        return PK_EINVAL;
    mpz_import(x, (len - 1) / 8, -1, 8, 0, 0, static_cast<const char *>(buf) + 1);
    if (static_cast<const char *>(buf)[0])
        mpz_neg(x, x);
    return 0;
}
int MpzMul(void *into, const void *from, void *) {
    mpz_mul(*static_cast<mpz_t *>(into), *static_cast<mpz_t *>(into),
            *static_cast<const mpz_t *>(from));
    return 0;
}
const pk_reducer kProduct = {
    {sizeof(mpz_t), MpzInit, MpzClear, MpzPack, MpzUnpack, nullptr}, MpzMul, 1};

int RangeProduct(void *, int64_t b, int64_t e, void *, void *acc, pk_worker *) {
    mpz_t &p = *static_cast<mpz_t *>(acc);
    for (int64_t i = b; i < e; i++)
        mpz_mul_ui(p, p, static_cast<unsigned long>(i + 1));
    return 0;
}

} // namespace

TEST(MpiPool, BigIntegerProductTravelsPacked) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    const int64_t n = 3000;
    mpz_t want;
    mpz_init(want);
    mpz_fac_ui(want, n);
    for (const Schedule &s : Schedules()) {
        for (int where : {PK_ON_ROOT, PK_ON_ALL}) {
            pk_opts o = Opts(s, where);
            mpz_t got;
            mpz_init_set_ui(got, 1);
            ASSERT_EQ(
                pk_map_reduce(ctx.get(), n, &o, RangeProduct, nullptr, 0, nullptr, &kProduct, &got),
                0)
                << ErrorText(ctx.get());
            if (where == PK_ON_ALL || WorldRank() == 0)
                EXPECT_EQ(mpz_cmp(got, want), 0) << "schedule " << s.schedule;
            else
                EXPECT_EQ(mpz_cmp_ui(got, 1), 0) << "PK_ON_ROOT leaves the others alone";
            mpz_clear(got);
        }
    }
    mpz_clear(want);
}

// ---- pk_tasks ----

namespace {

int SquareTask(void *, int64_t t, void *result, pk_worker *) {
    *static_cast<int64_t *>(result) = t * t + 1;
    return 0;
}

// A packed type: a heap string.
struct Text {
    char *s;
};
int TextInit(void *v, void *) {
    static_cast<Text *>(v)->s = nullptr;
    return 0;
}
void TextFree(void *v, void *) {
    std::free(static_cast<Text *>(v)->s);
}
int TextPack(const void *v, void **buf, size_t *len, void *) {
    const char *s = static_cast<const Text *>(v)->s;
    *len = s ? std::strlen(s) : 0;
    *buf = std::malloc(*len + 1);
    if (*buf == nullptr)
        return PK_ENOMEM;
    std::memcpy(*buf, s ? s : "", *len);
    return 0;
}
int TextUnpack(void *v, const void *buf, size_t len, void *) {
    Text *t = static_cast<Text *>(v);
    std::free(t->s);
    t->s = static_cast<char *>(std::malloc(len + 1));
    if (t->s == nullptr)
        return PK_ENOMEM;
    std::memcpy(t->s, buf, len);
    t->s[len] = '\0';
    return 0;
}
const pk_type kText = {sizeof(Text), TextInit, TextFree, TextPack, TextUnpack, nullptr};

std::string TextFor(int64_t t) {
    return "task " + std::to_string(t) + std::string(static_cast<size_t>(t % 23), 'x');
}

int TextTask(void *, int64_t t, void *result, pk_worker *) {
    Text *x = static_cast<Text *>(result);
    std::string s = TextFor(t);
    x->s = static_cast<char *>(std::malloc(s.size() + 1));
    if (x->s == nullptr)
        return PK_ENOMEM;
    std::memcpy(x->s, s.c_str(), s.size() + 1);
    return 0;
}

} // namespace

TEST(MpiPool, TaskResultsInTaskOrder) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    const int64_t n = 211;
    pk_type plain = {sizeof(int64_t), nullptr, nullptr, nullptr, nullptr, nullptr};
    for (const Schedule &s : Schedules()) {
        for (int where : {PK_ON_ROOT, PK_ON_ALL}) {
            pk_opts o = Opts(s, where);
            bool holds = where == PK_ON_ALL || WorldRank() == 0;
            std::vector<int64_t> r(holds ? static_cast<size_t>(n) : 0, -1);
            ASSERT_EQ(
                pk_tasks(ctx.get(), n, &o, SquareTask, nullptr, &plain, holds ? r.data() : nullptr),
                0)
                << ErrorText(ctx.get());
            int64_t bad = 0;
            for (int64_t t = 0; holds && t < n; t++)
                bad += r[static_cast<size_t>(t)] != t * t + 1;
            EXPECT_EQ(bad, 0) << "plain, where " << where;

            void *texts = nullptr;
            if (holds)
                ASSERT_EQ(pk_values_new(&texts, &kText, n), 0);
            ASSERT_EQ(pk_tasks(ctx.get(), n, &o, TextTask, nullptr, &kText, texts), 0)
                << ErrorText(ctx.get());
            bad = 0;
            for (int64_t t = 0; holds && t < n; t++) {
                const char *got = static_cast<Text *>(texts)[t].s;
                bad += got == nullptr || TextFor(t) != got;
            }
            EXPECT_EQ(bad, 0) << "packed, where " << where << " schedule " << s.schedule;
            pk_values_free(&kText, n, texts);
        }
    }
}

TEST(MpiPool, DistributedTaskResultsStayWhereTheyRan) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    const int64_t n = 97;
    pk_type plain = {sizeof(int64_t), nullptr, nullptr, nullptr, nullptr, nullptr};
    pk_opts o = Opts({PK_DYNAMIC, 2}, PK_DISTRIBUTED);
    std::vector<int64_t> r(static_cast<size_t>(n), 0);
    ASSERT_EQ(pk_tasks(ctx.get(), n, &o, SquareTask, nullptr, &plain, r.data()), 0);
    // every task's result is on exactly one rank
    std::vector<int64_t> filled(static_cast<size_t>(n)), total(static_cast<size_t>(n));
    for (int64_t t = 0; t < n; t++)
        filled[static_cast<size_t>(t)] = r[static_cast<size_t>(t)] == t * t + 1;
    MPI_Allreduce(filled.data(), total.data(), static_cast<int>(n), MPI_INT64_T, MPI_SUM,
                  MPI_COMM_WORLD);
    int64_t wrong = 0;
    for (int64_t c : total)
        wrong += c != 1;
    EXPECT_EQ(wrong, 0);
}

// ---- pk_team ----

TEST(MpiPool, TeamPutsWorkerWOnRankW) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    struct Seen {
        int id = -1, n = -1, rank = -1, runs = 0;
    } seen;
    auto fn = [](void *arg, pk_worker *w) {
        auto *s = static_cast<Seen *>(arg);
        s->id = w->id;
        s->n = w->nworkers;
        s->rank = w->rank;
        s->runs++;
        return 0;
    };
    ASSERT_EQ(pk_team(ctx.get(), 0, nullptr, fn, &seen), 0);
    EXPECT_EQ(seen.id, WorldRank());
    EXPECT_EQ(seen.rank, WorldRank());
    EXPECT_EQ(seen.n, WorldSize());
    ASSERT_EQ(pk_team(ctx.get(), 1, nullptr, fn, &seen), 0);
    EXPECT_EQ(seen.runs, WorldRank() == 0 ? 2 : 1) << "ranks beyond the team wait";
    EXPECT_EQ(pk_team(ctx.get(), WorldSize() + 1, nullptr, fn, &seen), PK_EINVAL);
    EXPECT_EQ(seen.runs, WorldRank() == 0 ? 2 : 1);
    auto texts = AllTexts(ErrorText(ctx.get()));
    for (const std::string &t : texts)
        EXPECT_EQ(t, texts[0]);
    EXPECT_NE(texts[0].find("needs " + std::to_string(WorldSize() + 1) + " ranks"),
              std::string::npos)
        << texts[0];
}

// A map output gathered to rank 0 into an array every rank of the node maps
// (pk_shared_data, the same array passed by every rank): each rank writes its
// chunks straight into it and nothing is moved afterwards. Any other pointer on
// some rank (another offset, another array) falls back to moving the parts,
// with the same values on rank 0.
TEST(MpiPool, MapOutputIntoNodeSharedArrayIsWrittenInPlace) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    const int64_t n = 20011;
    pk_shared *sh = nullptr;
    ASSERT_EQ(pk_shared_new(ctx.get(), &sh, sizeof(Elem), n + 1), 0) << ErrorText(ctx.get());
    auto *data = static_cast<Elem *>(pk_shared_data(sh));
    bool one_node = data != nullptr; // NULL where the ranks span nodes
    for (const Schedule &s : Schedules()) {
        for (int shift : {0, 1}) { // 1: ranks other than 0 pass another address
            pk_opts o = Opts(s, PK_ON_ROOT);
            std::vector<Elem> mine(static_cast<size_t>(n + 1));
            Elem *out = data;
            if (!one_node)
                out = mine.data();
            else if (shift && WorldRank() != 0)
                out = data + 1;
            if (WorldRank() == 0)
                std::memset(static_cast<void *>(out), 0, sizeof(Elem) * static_cast<size_t>(n));
            pk_rank_barrier(ctx.get());
            double sum = 0;
            ASSERT_EQ(pk_map_reduce(ctx.get(), n, &o, MapElems, nullptr, sizeof(Elem), out,
                                    &pk_sum_f64, &sum),
                      0)
                << ErrorText(ctx.get());
            bool in_place = one_node && !shift && WorldSize() > 1;
            EXPECT_EQ(pk__mpi_out_was_shared(ctx.get()), in_place ? 1 : 0)
                << "shift " << shift << " sched " << s.schedule;
            if (WorldRank() == 0) {
                std::vector<Elem> got(out, out + n);
                EXPECT_EQ(BadElems(got, 0, n, 0), 0)
                    << "shift " << shift << " sched " << s.schedule;
            }
            EXPECT_EQ(sum, SerialSum(n, o)) << "shift " << shift << " sched " << s.schedule;
            pk_rank_barrier(ctx.get()); // rank 0 has read before the next call writes
        }
    }
    pk_shared_free(sh);
}

// ---- interruption ----

namespace {

int InterruptOnRank(void *arg) {
    return *static_cast<int *>(arg);
}

int NoteRange(void *arg, int64_t b, int64_t e, pk_worker *) {
    __atomic_add_fetch(static_cast<int64_t *>(arg), e - b, __ATOMIC_RELAXED);
    return 0;
}

} // namespace

// A signal on one rank alone (its interrupt says stop, the others' do not)
// fails the call on every rank with PK_EINTR and that rank as the origin.
TEST(MpiPool, InterruptOnOneRankStopsEveryRank) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int last = WorldSize() - 1;
    int mine = pk_ctx_rank(ctx.get()) == last;
    pk_ctx_set_interrupt(ctx.get(), InterruptOnRank, &mine);
    for (const Schedule &s : Schedules()) {
        int64_t ran = 0;
        pk_opts o = Opts(s);
        EXPECT_EQ(pk_for(ctx.get(), 100000, &o, NoteRange, &ran), PK_EINTR) << s.schedule;
        EXPECT_EQ(pk_ctx_error(ctx.get())->rank, last);
        EXPECT_STREQ(pk_ctx_error(ctx.get())->message, "interrupted");
        if (mine)
            EXPECT_EQ(ran, 0);
    }
    pk_ctx_set_interrupt(ctx.get(), nullptr, nullptr);
    int64_t ran = 0;
    EXPECT_EQ(pk_for(ctx.get(), 1000, nullptr, NoteRange, &ran), 0) << ErrorText(ctx.get());
}
