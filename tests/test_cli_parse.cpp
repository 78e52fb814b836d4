// Tests of the command-line helpers in parkit/cli.h: number expressions ("1e10",
// "2^64-1", "1e10+7"), signed numbers, lists, ranges and the options every
// program takes. Expected values are computed here from their definitions, never
// taken from the parser's own output.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

constexpr uint64_t Pow(uint64_t base, int exp) {
    uint64_t r = 1;
    for (int i = 0; i < exp; i++)
        r *= base;
    return r;
}

// ---- pk_parse_u64 ---------------------------------------------------------------

struct U64Case {
    const char *text;
    uint64_t want;
};

class ParseU64Accepts : public testing::TestWithParam<U64Case> {};

TEST_P(ParseU64Accepts, Value) {
    uint64_t v = 12345;
    const char *why = nullptr;
    ASSERT_EQ(pk_parse_u64(GetParam().text, &v, &why), 0) << (why ? why : "");
    EXPECT_EQ(v, GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Expressions, ParseU64Accepts,
    testing::Values(U64Case{"0", 0}, U64Case{"10000000", 10000000}, U64Case{"1e10", Pow(10, 10)},
                    U64Case{"1E3", 1000}, U64Case{"2^32", Pow(2, 32)},
                    U64Case{"1e10+7", Pow(10, 10) + 7}, U64Case{"2^64-1", UINT64_MAX},
                    U64Case{"18446744073709551615", UINT64_MAX}, U64Case{"2.5e9", 2500000000u},
                    U64Case{"1.25e2", 125}, U64Case{"2^32 - 5", Pow(2, 32) - 5}, U64Case{" 7 ", 7},
                    U64Case{"1e10 + 2^32", Pow(10, 10) + Pow(2, 32)}, U64Case{"10^9", Pow(10, 9)},
                    U64Case{"2^63+2^63-1", UINT64_MAX}, U64Case{"1e19", Pow(10, 19)},
                    U64Case{"5-5", 0}, U64Case{"+8", 8}, U64Case{"000123", 123},
                    U64Case{"1.5e1", 15}, U64Case{"2^0", 1}));

struct RejectCase {
    const char *text;
    int code; // PK_EINVAL (does not parse) or PK_ERANGE (too large / negative)
};

class ParseU64Rejects : public testing::TestWithParam<RejectCase> {};

TEST_P(ParseU64Rejects, WithAReason) {
    uint64_t v = 777;
    const char *why = nullptr;
    EXPECT_EQ(pk_parse_u64(GetParam().text, &v, &why), GetParam().code);
    ASSERT_NE(why, nullptr);
    EXPECT_GT(std::string(why).size(), 0u);
    EXPECT_EQ(v, 777u) << "the output is left alone on failure";
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, ParseU64Rejects,
    testing::Values(RejectCase{"abc", PK_EINVAL}, RejectCase{"", PK_EINVAL},
                    RejectCase{"   ", PK_EINVAL}, RejectCase{"1.5", PK_EINVAL},
                    RejectCase{"1e", PK_EINVAL}, RejectCase{"2^", PK_EINVAL},
                    RejectCase{"10x", PK_EINVAL}, RejectCase{"1e10+", PK_EINVAL},
                    RejectCase{"1e10 7", PK_EINVAL}, RejectCase{"0x10", PK_EINVAL},
                    RejectCase{"1,000", PK_EINVAL}, RejectCase{"e5", PK_EINVAL},
                    RejectCase{"2.5e-1", PK_EINVAL}, RejectCase{"++5", PK_EINVAL},
                    RejectCase{"5 +", PK_EINVAL}));

INSTANTIATE_TEST_SUITE_P(
    OutOfRange, ParseU64Rejects,
    testing::Values(RejectCase{"-5", PK_ERANGE}, RejectCase{" -1", PK_ERANGE},
                    RejectCase{"3-4", PK_ERANGE}, RejectCase{"2^64", PK_ERANGE},
                    RejectCase{"1e20", PK_ERANGE}, RejectCase{"18446744073709551616", PK_ERANGE},
                    RejectCase{"2^64-1+1", PK_ERANGE}, RejectCase{"2^63+2^63", PK_ERANGE},
                    RejectCase{"1e19+1e19", PK_ERANGE}, RejectCase{"2^1000", PK_ERANGE},
                    RejectCase{"10^30", PK_ERANGE}, RejectCase{"1e400", PK_ERANGE},
                    RejectCase{"99999999999999999999999999999999999999999999", PK_ERANGE},
                    RejectCase{"1.8446744073709551616e19", PK_ERANGE}));

// Products past the 128-bit working range, found by fuzzing: a power of a large
// base, a long integer part times its fraction's scale. Each must be "too large",
// never a value wrapped around; trailing zeros of a fraction do not count.
INSTANTIATE_TEST_SUITE_P(
    LargeProducts, ParseU64Rejects,
    testing::Values(RejectCase{"18446744073709551616^2", PK_ERANGE},
                    RejectCase{"8184467440^7", PK_ERANGE}, RejectCase{"4294967296^2", PK_ERANGE},
                    RejectCase{"1000000000000000000000000000000.000000001e9", PK_ERANGE},
                    RejectCase{"18446744073709551615.5e1", PK_ERANGE}));

INSTANTIATE_TEST_SUITE_P(
    LongFractions, ParseU64Accepts,
    testing::Values(U64Case{"18446744073709551615.000000000000000000000000000000", UINT64_MAX},
                    U64Case{"1.000000000000000000000000000000e3", 1000},
                    U64Case{"4294967295^2", UINT64_C(4294967295) * UINT64_C(4294967295)}));

TEST(ParseU64, NullTextIsRejected) {
    uint64_t v = 0;
    const char *why = nullptr;
    EXPECT_EQ(pk_parse_u64(nullptr, &v, &why), PK_EINVAL);
    EXPECT_NE(why, nullptr);
}

TEST(ParseU64, ReasonPointerIsOptional) {
    uint64_t v = 0;
    EXPECT_EQ(pk_parse_u64("abc", &v, nullptr), PK_EINVAL);
    EXPECT_EQ(pk_parse_u64("2^10", &v, nullptr), 0);
    EXPECT_EQ(v, 1024u);
}

// ---- pk_parse_i64 ---------------------------------------------------------------

struct I64Case {
    const char *text;
    int64_t want;
};

class ParseI64Accepts : public testing::TestWithParam<I64Case> {};

TEST_P(ParseI64Accepts, Value) {
    int64_t v = 12345;
    const char *why = nullptr;
    ASSERT_EQ(pk_parse_i64(GetParam().text, &v, &why), 0) << (why ? why : "");
    EXPECT_EQ(v, GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Signed, ParseI64Accepts,
    testing::Values(I64Case{"0", 0}, I64Case{"-0", 0}, I64Case{"-5", -5}, I64Case{" -5", -5},
                    I64Case{"42", 42}, I64Case{"-1e10", -10000000000LL},
                    I64Case{"9223372036854775807", INT64_MAX}, I64Case{"2^63-1", INT64_MAX},
                    I64Case{"-9223372036854775808", INT64_MIN}, I64Case{"-2^63", INT64_MIN},
                    I64Case{"-3037000500", -3037000500LL},
                    // A leading minus belongs to the first term, as in arithmetic.
                    I64Case{"-1e10+7", -10000000000LL + 7}, I64Case{"-5+10", 5},
                    I64Case{"-2^63+1", INT64_MIN + 1}, I64Case{"5-10", -5}));

class ParseI64Rejects : public testing::TestWithParam<RejectCase> {};

TEST_P(ParseI64Rejects, WithAReason) {
    int64_t v = 777;
    const char *why = nullptr;
    EXPECT_EQ(pk_parse_i64(GetParam().text, &v, &why), GetParam().code);
    ASSERT_NE(why, nullptr);
    EXPECT_EQ(v, 777);
}

INSTANTIATE_TEST_SUITE_P(
    Bad, ParseI64Rejects,
    testing::Values(RejectCase{"2^63", PK_ERANGE}, RejectCase{"9223372036854775808", PK_ERANGE},
                    RejectCase{"-9223372036854775809", PK_ERANGE}, RejectCase{"-2^63-1", PK_ERANGE},
                    RejectCase{"2^64", PK_ERANGE}, RejectCase{"-1e19", PK_ERANGE},
                    RejectCase{"", PK_EINVAL}, RejectCase{"-", PK_EINVAL},
                    RejectCase{"--5", PK_EINVAL}, RejectCase{"-abc", PK_EINVAL},
                    RejectCase{"-1.5", PK_EINVAL}, RejectCase{"12abc", PK_EINVAL}));

TEST(ParseI64, NullTextIsRejected) {
    int64_t v = 0;
    const char *why = nullptr;
    EXPECT_EQ(pk_parse_i64(nullptr, &v, &why), PK_EINVAL);
    EXPECT_NE(why, nullptr);
}

// ---- pk_parse_double -------------------------------------------------------------

TEST(ParseDouble, AcceptsNonNegativeAndRejectsTheRest) {
    double v = -1;
    const char *why = nullptr;
    EXPECT_EQ(pk_parse_double("0.25", &v, &why), 0);
    EXPECT_EQ(v, 0.25);
    EXPECT_EQ(pk_parse_double("1e-3", &v, &why), 0);
    EXPECT_EQ(v, 1e-3);
    EXPECT_EQ(pk_parse_double("-1", &v, &why), PK_ERANGE);
    for (const char *bad : {"", "x", "1s", "inf", "nan"}) {
        why = nullptr;
        EXPECT_EQ(pk_parse_double(bad, &v, &why), PK_EINVAL) << bad;
        EXPECT_NE(why, nullptr) << bad;
    }
}

// ---- lists and ranges ------------------------------------------------------------

std::vector<int> ParseList(const char *text, int min, int max, int cap, int *rc, const char **why) {
    std::vector<int> values(static_cast<size_t>(cap) + 1, -99);
    int count = -1;
    *rc = pk_parse_int_list(text, min, max, values.data(), cap, &count, why);
    values.resize(count >= 0 ? static_cast<size_t>(count) : 0);
    return values;
}

TEST(ParseIntList, CommaListAndDotRange) {
    int rc;
    const char *why = nullptr;
    EXPECT_EQ(ParseList("1,2,4,8", 1, 64, 64, &rc, &why), (std::vector<int>{1, 2, 4, 8}));
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(ParseList("1..4", 1, 64, 64, &rc, &why), (std::vector<int>{1, 2, 3, 4}));
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(ParseList("1,3..5,2^3", 1, 64, 64, &rc, &why), (std::vector<int>{1, 3, 4, 5, 8}));
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(ParseList("7", 1, 64, 64, &rc, &why), (std::vector<int>{7}));
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(ParseList("2..2", 1, 64, 64, &rc, &why), (std::vector<int>{2}));
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(ParseList("0,4096", 0, 4096, 64, &rc, &why), (std::vector<int>{0, 4096}));
    EXPECT_EQ(rc, 0);
}

TEST(ParseIntList, ExactlyCapValuesFit) {
    int rc;
    const char *why = nullptr;
    std::vector<int> v = ParseList("1..64", 1, 100, 64, &rc, &why);
    EXPECT_EQ(rc, 0);
    ASSERT_EQ(v.size(), 64u);
    for (int i = 0; i < 64; i++)
        EXPECT_EQ(v[static_cast<size_t>(i)], i + 1);
}

TEST(ParseIntList, BadListsAreRejectedWithAReason) {
    for (const char *bad : {"", ",", "1,", ",1", "1,,2", "a", "1,b", "0", "65", "4..2", "1..",
                            "..4", "1..2..3", "-1", "1.5", "2^40", "1..65"}) {
        int rc = 0;
        const char *why = nullptr;
        ParseList(bad, 1, 64, 64, &rc, &why);
        EXPECT_NE(rc, 0) << "'" << bad << "'";
        EXPECT_NE(why, nullptr) << "'" << bad << "'";
    }
}

TEST(ParseIntList, TooManyValuesIsRejected) {
    int rc = 0;
    const char *why = nullptr;
    ParseList("1..65", 1, 1000, 64, &rc, &why);
    EXPECT_NE(rc, 0);
    ASSERT_NE(why, nullptr);
    ParseList("1,2,3", 1, 1000, 2, &rc, &why);
    EXPECT_NE(rc, 0);
}

TEST(ParseIntList, NullTextIsRejected) {
    int values[4], count = 5;
    const char *why = nullptr;
    EXPECT_EQ(pk_parse_int_list(nullptr, 1, 8, values, 4, &count, &why), PK_EINVAL);
    EXPECT_EQ(count, 0);
    EXPECT_NE(why, nullptr);
}

TEST(ParseRange, AcceptsExpressionsOnBothSides) {
    uint64_t a = 0, b = 0;
    const char *why = nullptr;
    ASSERT_EQ(pk_parse_u64_range("1..10", &a, &b, &why), 0);
    EXPECT_EQ(a, 1u);
    EXPECT_EQ(b, 10u);
    ASSERT_EQ(pk_parse_u64_range("1e3..2^20", &a, &b, &why), 0);
    EXPECT_EQ(a, 1000u);
    EXPECT_EQ(b, 1u << 20);
    ASSERT_EQ(pk_parse_u64_range("5..5", &a, &b, &why), 0);
    EXPECT_EQ(a, 5u);
    EXPECT_EQ(b, 5u);
    ASSERT_EQ(pk_parse_u64_range("2^64-100..2^64-1", &a, &b, &why), 0);
    EXPECT_EQ(a, UINT64_MAX - 99);
    EXPECT_EQ(b, UINT64_MAX);
}

TEST(ParseRange, BackwardsIsRejected) {
    uint64_t a = 0, b = 0;
    const char *why = nullptr;
    EXPECT_EQ(pk_parse_u64_range("10..1", &a, &b, &why), PK_EINVAL);
    ASSERT_NE(why, nullptr);
    EXPECT_NE(std::string(why).find("backwards"), std::string::npos) << why;
}

TEST(ParseRange, MalformedIsRejected) {
    for (const char *bad :
         {"", "5", "..5", "5..", "a..b", "1..2..3", "-1..5", "1..2^64", "1...3", "1..x"}) {
        uint64_t a = 0, b = 0;
        const char *why = nullptr;
        EXPECT_NE(pk_parse_u64_range(bad, &a, &b, &why), 0) << "'" << bad << "'";
        EXPECT_NE(why, nullptr) << "'" << bad << "'";
    }
    uint64_t a, b;
    EXPECT_NE(pk_parse_u64_range(nullptr, &a, &b, nullptr), 0);
}

// ---- the common options -----------------------------------------------------------

TEST(CliCommon, Defaults) {
    pk_cli_common c;
    std::memset(&c, 0x5a, sizeof c);
    pk_cli_common_defaults(&c);
    EXPECT_EQ(c.backend, nullptr);
    EXPECT_EQ(c.nthreads, 0);
    EXPECT_EQ(c.nranks, 0);
    EXPECT_EQ(c.repeat, 3);
    EXPECT_EQ(c.warmup, 1);
    EXPECT_EQ(c.format, PK_FORMAT_TABLE);
    EXPECT_EQ(c.quiet, 0);
    EXPECT_EQ(c.progress, -1);
    EXPECT_EQ(c.inject, nullptr);
    EXPECT_EQ(c.help, 0);
    EXPECT_EQ(c.version, 0);
}

class CliApply : public testing::Test {
  protected:
    void SetUp() override { pk_cli_common_defaults(&c_); }
    int Apply(const char *name, const char *arg) {
        why_ = nullptr;
        return pk_cli_common_apply(&c_, name, arg, &why_);
    }
    pk_cli_common c_;
    const char *why_ = nullptr;
};

TEST_F(CliApply, ListsOfThreadsAndRanks) {
    EXPECT_EQ(Apply("threads", "1,2,4"), 1);
    ASSERT_EQ(c_.nthreads, 3);
    EXPECT_EQ(c_.threads[0], 1);
    EXPECT_EQ(c_.threads[1], 2);
    EXPECT_EQ(c_.threads[2], 4);
    EXPECT_EQ(Apply("ranks", "1..3"), 1);
    ASSERT_EQ(c_.nranks, 3);
    EXPECT_EQ(c_.ranks[2], 3);
}

TEST_F(CliApply, BadListsAreUsageErrors) {
    for (const char *bad : {"0", "", "a", "1,,2", "3..1", "-1", "4097"}) {
        EXPECT_EQ(Apply("threads", bad), PK_EINVAL) << bad;
        EXPECT_NE(why_, nullptr) << bad;
    }
    EXPECT_EQ(Apply("ranks", "0"), PK_EINVAL);
}

TEST_F(CliApply, Counts) {
    EXPECT_EQ(Apply("repeat", "5"), 1);
    EXPECT_EQ(c_.repeat, 5);
    EXPECT_EQ(Apply("warmup", "0"), 1);
    EXPECT_EQ(c_.warmup, 0);
    EXPECT_EQ(Apply("repeat", "1e1"), 1);
    EXPECT_EQ(c_.repeat, 10);
    for (const char *bad : {"0", "-1", "x", "1e7"}) {
        EXPECT_EQ(Apply("repeat", bad), PK_EINVAL) << bad;
        EXPECT_NE(why_, nullptr);
    }
    EXPECT_EQ(Apply("warmup", "-1"), PK_EINVAL);
    EXPECT_EQ(Apply("warmup", "2000000"), PK_EINVAL);
}

TEST_F(CliApply, Format) {
    EXPECT_EQ(Apply("format", "json"), 1);
    EXPECT_EQ(c_.format, PK_FORMAT_JSON);
    EXPECT_EQ(Apply("format", "csv"), 1);
    EXPECT_EQ(c_.format, PK_FORMAT_CSV);
    EXPECT_EQ(Apply("format", "table"), 1);
    EXPECT_EQ(c_.format, PK_FORMAT_TABLE);
    EXPECT_EQ(Apply("format", "xml"), PK_EINVAL);
    ASSERT_NE(why_, nullptr);
    EXPECT_NE(std::string(why_).find("json"), std::string::npos);
}

TEST_F(CliApply, FlagsAndStrings) {
    EXPECT_EQ(Apply("quiet", nullptr), 1);
    EXPECT_EQ(c_.quiet, 1);
    EXPECT_EQ(Apply("progress", nullptr), 1);
    EXPECT_EQ(c_.progress, 1);
    EXPECT_EQ(Apply("no-progress", nullptr), 1);
    EXPECT_EQ(c_.progress, 0);
    EXPECT_EQ(Apply("backend", "serial"), 1);
    EXPECT_STREQ(c_.backend, "serial");
    EXPECT_EQ(Apply("inject-fault", "task=3"), 1);
    EXPECT_STREQ(c_.inject, "task=3");
    EXPECT_EQ(Apply("help", nullptr), 1);
    EXPECT_EQ(c_.help, 1);
    EXPECT_EQ(Apply("version", nullptr), 1);
    EXPECT_EQ(c_.version, 1);
}

TEST_F(CliApply, UnknownNamesAreNotCommon) {
    pk_cli_common before;
    std::memcpy(&before, &c_, sizeof c_);
    EXPECT_EQ(Apply("first", "5"), 0);
    EXPECT_EQ(Apply("thread", "2"), 0);
    EXPECT_EQ(Apply("", nullptr), 0);
    EXPECT_EQ(std::memcmp(&before, &c_, sizeof c_), 0) << "an unknown option changed nothing";
}

TEST(CliCommon, WhichOptionsTakeAnArgument) {
    const pk_cli_option *table = pk_cli_common_options();
    for (const char *name :
         {"backend", "threads", "ranks", "repeat", "warmup", "format", "plot", "inject-fault"}) {
        ASSERT_NE(pk_cli_find(table, name), nullptr) << name;
        EXPECT_EQ(pk_cli_find(table, name)->has_arg, 1) << name;
        EXPECT_NE(pk_cli_find(table, name)->arg_name, nullptr) << name;
    }
    for (const char *name : {"quiet", "progress", "no-progress", "help", "version"}) {
        ASSERT_NE(pk_cli_find(table, name), nullptr) << name;
        EXPECT_EQ(pk_cli_find(table, name)->has_arg, 0) << name;
    }
    EXPECT_EQ(pk_cli_find(table, "first"), nullptr);
    EXPECT_EQ(pk_cli_find(table, "thread"), nullptr);
    EXPECT_EQ(pk_cli_count(table), 13);
    EXPECT_EQ(pk_cli_find(table, "help")->short_name, 'h');
}

// The help text of a table, captured in memory.
std::string Help(const pk_cli_option *table) {
    char *buf = nullptr;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    EXPECT_NE(f, nullptr);
    if (f == nullptr)
        return "";
    EXPECT_EQ(pk_cli_help(table, f), 0);
    std::fclose(f);
    std::string text(buf, len);
    std::free(buf);
    return text;
}

TEST(CliCommon, HelpMentionsEveryCommonOption) {
    std::string help = Help(pk_cli_common_options());
    for (const char *opt :
         {"--backend", "--threads", "--ranks", "--repeat", "--warmup", "--format", "--quiet",
          "--progress", "--no-progress", "--inject-fault", "--help", "--version"})
        EXPECT_NE(help.find(opt), std::string::npos) << opt;
}

int Ignore(void *, const char *, const char **) {
    return 0;
}

TEST(CliHelp, ColumnsAndContinuationLines) {
    const pk_cli_option table[] = {
        {"flag", 0, 0, nullptr, "a flag", Ignore},
        {"size", 's', 1, "N", "first line\nsecond line", Ignore},
        {"a-very-long-name", 0, 1, "ARG", "text", Ignore},
        {"hidden", 0, 0, nullptr, nullptr, Ignore},
        {nullptr, 0, 0, nullptr, nullptr, nullptr},
    };
    EXPECT_EQ(Help(table), "      --flag            a flag\n"
                           "  -s, --size N          first line\n"
                           "                        second line\n"
                           "      --a-very-long-name ARG  text\n");
    EXPECT_EQ(pk_cli_count(table), 4);
    EXPECT_EQ(pk_cli_find(table, "hidden"), &table[3]);
    EXPECT_EQ(pk_cli_count(nullptr), 0);
    EXPECT_EQ(pk_cli_find(nullptr, "flag"), nullptr);
}

TEST(CliHelp, WriteErrorIsReported) {
    FILE *readonly = std::fopen("/dev/null", "r");
    ASSERT_NE(readonly, nullptr);
    EXPECT_EQ(pk_cli_help(pk_cli_common_options(), readonly), PK_EIO);
    std::fclose(readonly);
}

TEST(FormatParse, KnownAndUnknown) {
    EXPECT_EQ(pk_format_parse("table"), PK_FORMAT_TABLE);
    EXPECT_EQ(pk_format_parse("csv"), PK_FORMAT_CSV);
    EXPECT_EQ(pk_format_parse("json"), PK_FORMAT_JSON);
    EXPECT_EQ(pk_format_parse("JSON"), -1);
    EXPECT_EQ(pk_format_parse(""), -1);
}

} // namespace
