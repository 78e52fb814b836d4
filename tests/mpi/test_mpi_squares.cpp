// The squares kernel on ranks against its closed form: the sum on every rank,
// every stored value on rank 0, on every rank or in each rank's own part, for
// ranges that leave some ranks without a chunk and ranges through zero.
#include <string>
#include <vector>

#include "mpi_test_util.h"

namespace {

struct Range {
    int64_t first, count;
};

std::vector<Range> Ranges() {
    // 5 chunks of PK_SQUARES_CHUNK: with 8 ranks some get nothing
    return {{1, 300001}, {-150000, 300001}, {PK_SQUARES_MAX_ABS - 99999, 100000}, {7, 1}};
}

int64_t BadValues(const std::vector<int64_t> &out, int64_t first, int64_t b, int64_t e) {
    int64_t bad = 0;
    for (int64_t i = b; i < e; i++) {
        int64_t x = first + i;
        bad += out[static_cast<size_t>(i - b)] != x * x;
    }
    return bad;
}

} // namespace

TEST(MpiSquares, SumAndValuesWhereAsked) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    for (const Range &r : Ranges()) {
        pk_i128 want;
        ASSERT_EQ(pk_squares_expected(r.first, r.count, &want), 0);
        for (int where :
             {int{PK_SQUARES_SUM_ONLY}, int{PK_ON_ROOT}, int{PK_ON_ALL}, int{PK_DISTRIBUTED}}) {
            int64_t b = 0, e = r.count;
            if (where == PK_DISTRIBUTED)
                ASSERT_EQ(pk_squares_local_range(ctx.get(), r.count, &b, &e), 0);
            bool holds = where == PK_ON_ALL || where == PK_DISTRIBUTED ||
                         (where == PK_ON_ROOT && WorldRank() == 0);
            // one element at least: an empty part still passes an array
            std::vector<int64_t> out(holds ? static_cast<size_t>(e - b > 0 ? e - b : 1) : 0, -1);
            pk_i128 sum = {1, 1};
            ASSERT_EQ(
                pk_squares(ctx.get(), r.first, r.count, where, holds ? out.data() : nullptr, &sum),
                0)
                << ErrorText(ctx.get());
            char got_s[48], want_s[48];
            pk_i128_to_string(sum, got_s, sizeof got_s);
            pk_i128_to_string(want, want_s, sizeof want_s);
            EXPECT_STREQ(got_s, want_s) << "first " << r.first << " where " << where;
            if (holds)
                EXPECT_EQ(BadValues(out, r.first, b, e), 0) << "where " << where;
            if (where == PK_DISTRIBUTED)
                EXPECT_EQ(SumOverRanks(e - b), r.count) << "the parts tile the range";
        }
    }
}

TEST(MpiSquares, FaultInTheLastChunkOfTheLastRank) {
    MpiCtx ctx = WorldCtx();
    ASSERT_NE(ctx, nullptr);
    int last = WorldSize() - 1;
    std::string spec = "kernel=squares,rank=" + std::to_string(last) + ",task=4";
    ASSERT_EQ(pk_ctx_set_fault(ctx.get(), spec.c_str()), 0);
    pk_i128 sum;
    std::vector<int64_t> out(WorldRank() == 0 ? 300001 : 0);
    int rc = pk_squares(ctx.get(), 1, 300001, PK_ON_ROOT, out.empty() ? nullptr : out.data(), &sum);
    EXPECT_EQ(rc, PK_EINJECTED);
    const pk_error_info *e = pk_ctx_error(ctx.get());
    EXPECT_EQ(e->rank, last);
    EXPECT_EQ(e->task, 4);
    EXPECT_STREQ(e->kernel, "squares");
    EXPECT_STREQ(e->message, "injected fault");
    auto texts = AllTexts(ErrorText(ctx.get()));
    for (const std::string &t : texts)
        EXPECT_EQ(t, texts[0]);
    pk_ctx_set_fault(ctx.get(), nullptr);
}
