// Tests of the error model: the code table generated from PK_ERRNO_MAP (names,
// texts, values), unknown codes, and the error detail a context keeps and formats
// as "kernel: rank R, thread T, task I: message" with unknown parts left out.
// Errors are produced through the public API only, the way a user meets them.
#include <climits>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

struct CodeEntry {
    const char *name; // "PK_EINVAL"
    int value;
    const char *text;
    int enum_value; // the enum constant, to check it matches the listed value
};

// Built from the same X-macro list as the library, so a code added there is
// checked here without editing this file.
std::vector<CodeEntry> AllCodes() {
    std::vector<CodeEntry> codes;
#define PK_TEST_CODE(name, value, text) codes.push_back({"PK_" #name, value, text, PK_##name});
    PK_ERRNO_MAP(PK_TEST_CODE)
#undef PK_TEST_CODE
    return codes;
}

TEST(ErrorCodes, EveryCodeHasItsOwnNameAndText) {
    std::set<std::string> names, texts;
    std::set<int> values;
    for (const CodeEntry &c : AllCodes()) {
        SCOPED_TRACE(c.name);
        EXPECT_LT(c.value, 0) << "error codes are negative";
        EXPECT_EQ(c.value, c.enum_value);
        EXPECT_STREQ(pk_err_name(c.value), c.name);
        EXPECT_STREQ(pk_strerror(c.value), c.text);
        EXPECT_GT(std::strlen(c.text), 0u);
        EXPECT_TRUE(names.insert(pk_err_name(c.value)).second) << "duplicate name";
        EXPECT_TRUE(texts.insert(pk_strerror(c.value)).second) << "duplicate text";
        EXPECT_TRUE(values.insert(c.value).second) << "duplicate value";
    }
    EXPECT_GE(values.size(), 14u);
}

TEST(ErrorCodes, SuccessHasANameAndText) {
    EXPECT_EQ(PK_OK, 0);
    EXPECT_STREQ(pk_err_name(0), "PK_OK");
    EXPECT_STREQ(pk_strerror(0), "success");
}

TEST(ErrorCodes, UnknownCodesAreNamedAsUnknown) {
    int lowest = 0;
    for (const CodeEntry &c : AllCodes())
        lowest = c.value < lowest ? c.value : lowest;
    for (int code : {1, 42, lowest - 1, -1000, INT_MIN, INT_MAX}) {
        SCOPED_TRACE(code);
        EXPECT_STREQ(pk_err_name(code), "PK_UNKNOWN");
        EXPECT_STREQ(pk_strerror(code), "unknown error");
    }
}

TEST(ErrorCodes, SpecificCodesKeepTheirMeaning) {
    // Programs and scripts rely on these names; renaming one is an API change.
    EXPECT_STREQ(pk_err_name(PK_EINVAL), "PK_EINVAL");
    EXPECT_STREQ(pk_err_name(PK_EOVERFLOW), "PK_EOVERFLOW");
    EXPECT_STREQ(pk_err_name(PK_EINJECTED), "PK_EINJECTED");
    EXPECT_STREQ(pk_err_name(PK_ENOENT), "PK_ENOENT");
    EXPECT_STREQ(pk_strerror(PK_EINJECTED), "injected fault");
}

// ---- the error detail in a context ----------------------------------------------

class ErrorDetail : public testing::Test {
  protected:
    void SetUp() override {
        pk_ctx *c = nullptr;
        ASSERT_EQ(pk_ctx_new(&c, "serial"), 0);
        ctx_.reset(c);
    }
    pk_ctx *ctx() { return ctx_.get(); }
    std::string Formatted() {
        char buf[512];
        size_t n = pk_ctx_error_string(ctx(), buf, sizeof buf);
        EXPECT_EQ(n, std::strlen(buf));
        return buf;
    }

  private:
    CtxPtr ctx_;
};

struct FailSpec {
    int64_t chunk;   // the chunk that fails
    int code;        // what it returns
    const char *msg; // message given to pk_fail, or nullptr for none
};

int FailAt(void *arg, int64_t begin, int64_t end, pk_worker *w) {
    (void)end;
    const FailSpec *f = static_cast<const FailSpec *>(arg);
    if (begin != f->chunk)
        return 0;
    if (f->msg == nullptr)
        return f->code;
    return pk_fail(w, f->code, "%s at %lld", f->msg, static_cast<long long>(begin));
}

int NoOp(void *, int64_t, int64_t, pk_worker *) {
    return 0;
}

TEST_F(ErrorDetail, NoErrorRecordedAtFirst) {
    const pk_error_info *e = pk_ctx_error(ctx());
    EXPECT_EQ(e->code, 0);
    EXPECT_EQ(e->rank, -1);
    EXPECT_EQ(e->thread, -1);
    EXPECT_EQ(e->task, -1);
    EXPECT_STREQ(e->kernel, "");
    EXPECT_EQ(Formatted(), "success");
}

TEST_F(ErrorDetail, ArgumentErrorOutsideAKernelIsTheMessageAlone) {
    EXPECT_EQ(pk_for(ctx(), -3, nullptr, NoOp, nullptr), PK_EINVAL);
    const pk_error_info *e = pk_ctx_error(ctx());
    EXPECT_EQ(e->code, PK_EINVAL);
    EXPECT_STREQ(e->kernel, "");
    EXPECT_EQ(e->rank, -1);
    EXPECT_EQ(e->thread, -1);
    EXPECT_EQ(e->task, -1);
    EXPECT_EQ(Formatted(), "negative index count -3");
}

TEST_F(ErrorDetail, ArgumentErrorInAKernelNamesTheKernelOnly) {
    pk_i128 sum;
    EXPECT_EQ(pk_squares(ctx(), 3037000500, 1, PK_SQUARES_SUM_ONLY, nullptr, &sum), PK_EOVERFLOW);
    EXPECT_EQ(Formatted(), "squares: 3037000500 squared does not fit in 64 bits");
}

TEST_F(ErrorDetail, CallbackErrorHasTheWholeOrigin) {
    FailSpec f{4, PK_ECALLBACK, "bad input"};
    pk_opts o{};
    o.chunk = 1;
    o.label = "mylabel";
    EXPECT_EQ(pk_for(ctx(), 10, &o, FailAt, &f), PK_ECALLBACK);
    const pk_error_info *e = pk_ctx_error(ctx());
    EXPECT_EQ(e->code, PK_ECALLBACK);
    EXPECT_STREQ(e->kernel, "mylabel");
    EXPECT_EQ(e->rank, 0);
    EXPECT_EQ(e->thread, 0);
    EXPECT_EQ(e->task, 4);
    EXPECT_STREQ(e->message, "bad input at 4");
    EXPECT_EQ(Formatted(), "mylabel: rank 0, thread 0, task 4: bad input at 4");
}

TEST_F(ErrorDetail, DefaultLabelIsPool) {
    FailSpec f{0, PK_ERANGE, "out of range"};
    EXPECT_EQ(pk_for(ctx(), 3, nullptr, FailAt, &f), PK_ERANGE);
    EXPECT_EQ(Formatted(), "pool: rank 0, thread 0, task 0: out of range at 0");
}

TEST_F(ErrorDetail, MissingMessageFallsBackToTheCodeText) {
    FailSpec f{2, PK_EOVERFLOW, nullptr};
    pk_opts o{};
    o.chunk = 1;
    o.label = "lbl";
    EXPECT_EQ(pk_for(ctx(), 5, &o, FailAt, &f), PK_EOVERFLOW);
    EXPECT_EQ(Formatted(),
              std::string("lbl: rank 0, thread 0, task 2: ") + pk_strerror(PK_EOVERFLOW));
}

TEST_F(ErrorDetail, EmptyLabelLeavesTheKernelOut) {
    FailSpec f{1, PK_ECALLBACK, "no kernel"};
    pk_opts o{};
    o.chunk = 1;
    o.label = "";
    EXPECT_EQ(pk_for(ctx(), 3, &o, FailAt, &f), PK_ECALLBACK);
    EXPECT_EQ(Formatted(), "rank 0, thread 0, task 1: no kernel at 1");
}

int TeamFail(void *, pk_worker *w) {
    if (w->id == 1)
        return pk_fail(w, PK_EIO, "member %d failed", w->id);
    return 0;
}

TEST_F(ErrorDetail, NoTaskLeavesTheTaskOut) {
    // A team member fails outside any task: the origin has a thread but no task.
    pk_opts o{};
    o.label = "team";
    EXPECT_EQ(pk_team(ctx(), 2, &o, TeamFail, nullptr), PK_EIO);
    EXPECT_EQ(pk_ctx_error(ctx())->task, -1);
    EXPECT_EQ(Formatted(), "team: rank 0, thread 1: member 1 failed");
}

TEST_F(ErrorDetail, ShortBufferIsTruncatedAndTheLengthStillReported) {
    FailSpec f{0, PK_ECALLBACK, "something long enough to be cut"};
    pk_opts o{};
    o.label = "k";
    ASSERT_EQ(pk_for(ctx(), 1, &o, FailAt, &f), PK_ECALLBACK);
    std::string full = Formatted();
    char small[10];
    std::memset(small, 'x', sizeof small);
    EXPECT_EQ(pk_ctx_error_string(ctx(), small, sizeof small), full.size());
    EXPECT_EQ(std::string(small), full.substr(0, sizeof small - 1));
    EXPECT_EQ(pk_ctx_error_string(ctx(), nullptr, 0), full.size());
}

TEST_F(ErrorDetail, ErrorStaysUntilClearedOrReplaced) {
    FailSpec f{0, PK_ECALLBACK, "first"};
    ASSERT_EQ(pk_for(ctx(), 1, nullptr, FailAt, &f), PK_ECALLBACK);
    // A successful call does not clear the error (documented in context.h).
    ASSERT_EQ(pk_for(ctx(), 100, nullptr, NoOp, nullptr), 0);
    EXPECT_EQ(pk_ctx_error(ctx())->code, PK_ECALLBACK);
    EXPECT_STREQ(pk_ctx_error(ctx())->message, "first at 0");
    // The next failure replaces it entirely (no stale origin).
    ASSERT_EQ(pk_for(ctx(), 1, nullptr, nullptr, nullptr), PK_EINVAL);
    EXPECT_EQ(Formatted(), "no callback given");
    pk_ctx_clear_error(ctx());
    EXPECT_EQ(pk_ctx_error(ctx())->code, 0);
    EXPECT_EQ(pk_ctx_error(ctx())->task, -1);
    EXPECT_EQ(Formatted(), "success");
}

} // namespace
