// Tests of the shared report (table, CSV and JSON shapes, captured in memory),
// the timing statistics and the sweep driver, run with a fake kernel that counts
// its calls. The JSON output is read back with a small strict parser below, so a
// malformed object or a badly escaped string fails the test.
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

// ---- a minimal strict JSON reader ------------------------------------------------

struct Json {
    enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
    double number = 0;
    bool boolean = false;
    std::string str;
    std::vector<Json> items;
    std::vector<std::pair<std::string, Json>> members; // in order, to check key order

    const Json *Get(const std::string &key) const {
        for (const auto &m : members)
            if (m.first == key)
                return &m.second;
        return nullptr;
    }
};

class JsonReader {
  public:
    explicit JsonReader(const std::string &text) : s_(text) {}

    // Parses the whole text as one value; false (with where()) on any error.
    bool Parse(Json *out) {
        if (!Value(out))
            return false;
        Ws();
        return pos_ == s_.size() || Fail("trailing text");
    }
    std::string Error() const { return err_ + " at offset " + std::to_string(pos_); }

  private:
    bool Fail(const char *why) {
        if (err_.empty())
            err_ = why;
        return false;
    }
    void Ws() {
        while (pos_ < s_.size() && std::strchr(" \t\r\n", s_[pos_]) != nullptr)
            pos_++;
    }
    bool Literal(const char *word) {
        size_t n = std::strlen(word);
        if (s_.compare(pos_, n, word) != 0)
            return Fail("bad literal");
        pos_ += n;
        return true;
    }
    bool Value(Json *v) {
        Ws();
        if (pos_ >= s_.size())
            return Fail("unexpected end");
        char c = s_[pos_];
        if (c == '{')
            return ObjectValue(v);
        if (c == '[')
            return ArrayValue(v);
        if (c == '"') {
            v->kind = Json::String;
            return StringValue(&v->str);
        }
        if (c == 't' || c == 'f') {
            v->kind = Json::Bool;
            v->boolean = c == 't';
            return Literal(c == 't' ? "true" : "false");
        }
        if (c == 'n')
            return Literal("null");
        return NumberValue(v);
    }
    bool NumberValue(Json *v) {
        // JSON numbers: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
        size_t b = pos_;
        if (pos_ < s_.size() && s_[pos_] == '-')
            pos_++;
        if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_])))
            return Fail("bad number");
        if (s_[pos_] == '0' && pos_ + 1 < s_.size() &&
            std::isdigit(static_cast<unsigned char>(s_[pos_ + 1])))
            return Fail("leading zero");
        Digits();
        if (pos_ < s_.size() && s_[pos_] == '.') {
            pos_++;
            if (Digits() == 0)
                return Fail("bad fraction");
        }
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            pos_++;
            if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-'))
                pos_++;
            if (Digits() == 0)
                return Fail("bad exponent");
        }
        v->kind = Json::Number;
        v->number = std::strtod(s_.substr(b, pos_ - b).c_str(), nullptr);
        return true;
    }
    size_t Digits() {
        size_t n = 0;
        while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
            pos_++;
            n++;
        }
        return n;
    }
    bool StringValue(std::string *out) {
        pos_++; // opening quote
        while (pos_ < s_.size()) {
            unsigned char c = static_cast<unsigned char>(s_[pos_++]);
            if (c == '"')
                return true;
            if (c < 0x20)
                return Fail("raw control character in a string");
            if (c != '\\') {
                out->push_back(static_cast<char>(c));
                continue;
            }
            if (pos_ >= s_.size())
                break;
            char e = s_[pos_++];
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            if (e == 'u') {
                if (pos_ + 4 > s_.size())
                    return Fail("short \\u escape");
                unsigned long cp = std::strtoul(s_.substr(pos_, 4).c_str(), nullptr, 16);
                pos_ += 4;
                if (cp >= 0x80)
                    return Fail("non-ASCII \\u escape not expected here");
                out->push_back(static_cast<char>(cp));
            } else if (std::strchr(from, e) != nullptr && e != '\0') {
                out->push_back(to[std::strchr(from, e) - from]);
            } else {
                return Fail("bad escape");
            }
        }
        return Fail("unterminated string");
    }
    bool ArrayValue(Json *v) {
        v->kind = Json::Array;
        pos_++;
        Ws();
        if (pos_ < s_.size() && s_[pos_] == ']') {
            pos_++;
            return true;
        }
        for (;;) {
            v->items.emplace_back();
            if (!Value(&v->items.back()))
                return false;
            Ws();
            if (pos_ < s_.size() && s_[pos_] == ',') {
                pos_++;
                continue;
            }
            if (pos_ < s_.size() && s_[pos_] == ']') {
                pos_++;
                return true;
            }
            return Fail("expected , or ]");
        }
    }
    bool ObjectValue(Json *v) {
        v->kind = Json::Object;
        pos_++;
        Ws();
        if (pos_ < s_.size() && s_[pos_] == '}') {
            pos_++;
            return true;
        }
        for (;;) {
            Ws();
            if (pos_ >= s_.size() || s_[pos_] != '"')
                return Fail("expected a key");
            std::string key;
            if (!StringValue(&key))
                return false;
            if (v->Get(key) != nullptr)
                return Fail("duplicate key");
            Ws();
            if (pos_ >= s_.size() || s_[pos_] != ':')
                return Fail("expected :");
            pos_++;
            v->members.emplace_back(key, Json());
            if (!Value(&v->members.back().second))
                return false;
            Ws();
            if (pos_ < s_.size() && s_[pos_] == ',') {
                pos_++;
                continue;
            }
            if (pos_ < s_.size() && s_[pos_] == '}') {
                pos_++;
                return true;
            }
            return Fail("expected , or }");
        }
    }

    const std::string &s_;
    size_t pos_ = 0;
    std::string err_;
};

TEST(JsonReaderSelfCheck, RejectsWhatIsNotJson) {
    // The reader must be strict, or the JSON tests below could not fail.
    for (const char *bad : {"{", "{\"a\": 1,}", "{\"a\" 1}", "[1 2]", "\"a\nb\"", "{\"a\": 01}",
                            "{\"a\": \"\\q\"}", "{\"a\": 1} x", "{\"a\": 1, \"a\": 2}", "nul"}) {
        Json j;
        std::string text = bad;
        EXPECT_FALSE(JsonReader(text).Parse(&j)) << bad;
    }
    Json j;
    std::string ok = "{\"a\": [1, -2.5e3, \"x\\u0001\\\"\"], \"b\": {}, \"c\": true}";
    ASSERT_TRUE(JsonReader(ok).Parse(&j));
    EXPECT_EQ(j.Get("a")->items[1].number, -2500);
    EXPECT_EQ(j.Get("a")->items[2].str, "x\x01\"");
}

// ---- capturing a report ------------------------------------------------------------

struct ReportDeleter {
    void operator()(pk_report *r) const { pk_report_free(r); }
};
using ReportPtr = std::unique_ptr<pk_report, ReportDeleter>;

ReportPtr NewReport(const char *program, int format) {
    pk_report *r = nullptr;
    EXPECT_EQ(pk_report_new(&r, program, format), 0);
    EXPECT_NE(r, nullptr);
    return ReportPtr(r);
}

std::string Print(const pk_report *r, int *rc = nullptr) {
    char *buf = nullptr;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    EXPECT_NE(f, nullptr);
    if (f == nullptr)
        return "";
    int got = pk_report_print(r, f);
    std::fclose(f);
    std::string text(buf, len);
    std::free(buf);
    if (rc != nullptr)
        *rc = got;
    else
        EXPECT_EQ(got, 0);
    return text;
}

std::vector<std::string> Lines(const std::string &text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

pk_stats Row(int ranks, int threads, int got, double min, double median, double max) {
    pk_stats s{};
    s.ranks = ranks;
    s.threads = threads;
    s.threads_got = got;
    s.pool = ranks * got;
    s.runs = 3;
    s.min = min;
    s.median = median;
    s.max = max;
    s.mean = median;
    return s;
}

// A report like a program's: params, results, validation, two rows.
ReportPtr SampleReport(int format) {
    ReportPtr r = NewReport("squares", format);
    EXPECT_EQ(pk_report_param(r.get(), "program", "%s", "squares"), 0);
    EXPECT_EQ(pk_report_param(r.get(), "backend", "%s", "omp"), 0);
    EXPECT_EQ(pk_report_param(r.get(), "threads requested", "%s", "1,2"), 0);
    EXPECT_EQ(pk_report_param(r.get(), "N", "%d", 1000), 0);
    EXPECT_EQ(pk_report_result_str(r.get(), "sum", "%s", "333833500"), 0);
    EXPECT_EQ(pk_report_result_num(r.get(), "count", "%d", 1000), 0);
    EXPECT_EQ(pk_report_validation(r.get(), 1, nullptr), 0);
    std::vector<pk_stats> rows{Row(1, 1, 1, 0.9, 1.0, 1.5), Row(1, 2, 2, 0.4, 0.5, 0.7)};
    pk_stats_relative(rows.data(), 2, 8.0);
    EXPECT_EQ(pk_report_runs(r.get(), rows.data(), 2, "GB/s"), 0);
    return r;
}

// ---- table ------------------------------------------------------------------------

TEST(ReportTable, KeysAlignedAndEveryPartPresent) {
    ReportPtr r = SampleReport(PK_FORMAT_TABLE);
    std::vector<std::string> lines = Lines(Print(r.get()));
    ASSERT_GE(lines.size(), 10u);
    // Header and results: "key = value" with the '=' in one column, the width of
    // the longest key ("threads requested", 17 characters) plus one space.
    const char *keys[] = {"program", "backend", "threads requested", "N", "sum", "count"};
    const char *values[] = {"squares", "omp", "1,2", "1000", "333833500", "1000"};
    for (size_t i = 0; i < 6; i++) {
        SCOPED_TRACE(lines[i]);
        std::string want =
            std::string(keys[i]) + std::string(17 - std::strlen(keys[i]), ' ') + " = " + values[i];
        EXPECT_EQ(lines[i], want);
    }
    EXPECT_EQ(lines[6], "Validation: PASSED");
    // Column header then one row per pool size.
    EXPECT_NE(lines[7].find("median(s)"), std::string::npos);
    EXPECT_NE(lines[7].find("speedup"), std::string::npos);
    EXPECT_NE(lines[7].find("GB/s"), std::string::npos);
    std::istringstream row2(lines[9]);
    int ranks, got, pool;
    double mn, med, mx, speedup, rate;
    std::string eff;
    row2 >> ranks >> got >> pool >> mn >> med >> mx >> speedup >> eff >> rate;
    ASSERT_FALSE(row2.fail()) << lines[9];
    EXPECT_EQ(ranks, 1);
    EXPECT_EQ(got, 2);
    EXPECT_EQ(pool, 2);
    EXPECT_DOUBLE_EQ(mn, 0.4);
    EXPECT_DOUBLE_EQ(med, 0.5);
    EXPECT_DOUBLE_EQ(mx, 0.7);
    EXPECT_DOUBLE_EQ(speedup, 2.0);
    EXPECT_EQ(eff, "100.0%");
    EXPECT_DOUBLE_EQ(rate, 16.0);
    EXPECT_EQ(lines.size(), 10u);
}

TEST(ReportTable, FailedValidationWithAndWithoutDetail) {
    ReportPtr r = NewReport("p", PK_FORMAT_TABLE);
    EXPECT_EQ(pk_report_validation(r.get(), 0, "sum 5, expected 6"), 0);
    EXPECT_NE(Print(r.get()).find("Validation: FAILED (sum 5, expected 6)\n"), std::string::npos);
    EXPECT_EQ(pk_report_validation(r.get(), 0, nullptr), 0);
    std::string text = Print(r.get());
    EXPECT_NE(text.find("Validation: FAILED\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("()"), std::string::npos);
    EXPECT_EQ(pk_report_validation(r.get(), 1, "ignored when passed"), 0);
    EXPECT_NE(Print(r.get()).find("Validation: PASSED\n"), std::string::npos);
}

TEST(ReportTable, QuietPrintsOnlyResultsAndValidation) {
    ReportPtr r = SampleReport(PK_FORMAT_TABLE);
    pk_report_set_quiet(r.get(), 1);
    std::vector<std::string> lines = Lines(Print(r.get()));
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0].substr(0, 3), "sum");
    EXPECT_NE(lines[0].find("= 333833500"), std::string::npos);
    EXPECT_EQ(lines[1].substr(0, 5), "count");
    EXPECT_EQ(lines[2], "Validation: PASSED");
}

TEST(ReportTable, NotesFollowTheTable) {
    ReportPtr r = SampleReport(PK_FORMAT_TABLE);
    EXPECT_EQ(pk_report_note(r.get(), "run too short: %d us", 3), 0);
    std::vector<std::string> lines = Lines(Print(r.get()));
    EXPECT_EQ(lines.back(), "Note: run too short: 3 us");
}

// ---- CSV --------------------------------------------------------------------------

std::vector<std::string> Split(const std::string &line, char sep) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : line) {
        if (c == sep) {
            out.push_back(cur);
            cur.clear();
        } else {
            cur.push_back(c);
        }
    }
    out.push_back(cur);
    return out;
}

TEST(ReportCsv, CommentHeaderThenRows) {
    ReportPtr r = SampleReport(PK_FORMAT_CSV);
    std::vector<std::string> lines = Lines(Print(r.get()));
    ASSERT_EQ(lines.size(), 10u);
    for (size_t i = 0; i < 6; i++)
        EXPECT_EQ(lines[i].substr(0, 2), "# ") << lines[i];
    EXPECT_EQ(lines[0], "# program           = squares");
    EXPECT_EQ(lines[6], "# Validation: PASSED");
    std::vector<std::string> head = Split(lines[7], ',');
    ASSERT_EQ(head.size(), 13u);
    EXPECT_EQ(head[0], "program");
    EXPECT_EQ(head[7], "median");
    EXPECT_EQ(head[12], "rate_unit");
    for (size_t i = 8; i < 10; i++) {
        std::vector<std::string> cells = Split(lines[i], ',');
        ASSERT_EQ(cells.size(), head.size()) << lines[i];
        EXPECT_EQ(cells[0], "squares");
        EXPECT_EQ(cells[12], "GB/s");
    }
    std::vector<std::string> row = Split(lines[9], ',');
    EXPECT_EQ(row[2], "2"); // threads
    EXPECT_EQ(row[4], "2"); // pool
    EXPECT_DOUBLE_EQ(std::atof(row[7].c_str()), 0.5);
    EXPECT_DOUBLE_EQ(std::atof(row[9].c_str()), 2.0);
}

TEST(ReportCsv, FailedValidationIsACommentToo) {
    ReportPtr r = NewReport("p", PK_FORMAT_CSV);
    EXPECT_EQ(pk_report_validation(r.get(), 0, "bad value"), 0);
    EXPECT_NE(Print(r.get()).find("# Validation: FAILED (bad value)\n"), std::string::npos);
}

// ---- JSON -------------------------------------------------------------------------

Json ParseOrFail(const std::string &text) {
    Json j;
    JsonReader reader(text);
    EXPECT_TRUE(reader.Parse(&j)) << reader.Error() << "\n" << text;
    return j;
}

TEST(ReportJson, OneObjectWithTheContractKeys) {
    ReportPtr r = SampleReport(PK_FORMAT_JSON);
    std::string text = Print(r.get());
    Json j = ParseOrFail(text);
    ASSERT_EQ(j.kind, Json::Object);
    ASSERT_NE(j.Get("program"), nullptr);
    EXPECT_EQ(j.Get("program")->str, "squares");
    ASSERT_NE(j.Get("version"), nullptr);
    EXPECT_EQ(j.Get("version")->str, PARKIT_VERSION);
    ASSERT_NE(j.Get("backend"), nullptr);
    EXPECT_EQ(j.Get("backend")->str, "omp");
    ASSERT_NE(j.Get("validation"), nullptr);
    EXPECT_EQ(j.Get("validation")->str, "PASSED");
    EXPECT_EQ(j.Get("validation_detail"), nullptr);

    const Json *result = j.Get("result");
    ASSERT_NE(result, nullptr);
    ASSERT_EQ(result->kind, Json::Object);
    ASSERT_NE(result->Get("sum"), nullptr);
    EXPECT_EQ(result->Get("sum")->kind, Json::String) << "big sums travel as strings";
    EXPECT_EQ(result->Get("sum")->str, "333833500");
    ASSERT_NE(result->Get("count"), nullptr);
    EXPECT_EQ(result->Get("count")->kind, Json::Number);
    EXPECT_EQ(result->Get("count")->number, 1000);

    const Json *params = j.Get("params");
    ASSERT_NE(params, nullptr);
    ASSERT_NE(params->Get("threads requested"), nullptr);
    EXPECT_EQ(params->Get("threads requested")->str, "1,2");

    const Json *runs = j.Get("runs");
    ASSERT_NE(runs, nullptr);
    ASSERT_EQ(runs->kind, Json::Array);
    ASSERT_EQ(runs->items.size(), 2u);
    for (const char *key : {"ranks", "threads", "threads_obtained", "pool", "runs", "min", "median",
                            "max", "speedup", "efficiency", "rate"}) {
        ASSERT_NE(runs->items[1].Get(key), nullptr) << key;
        EXPECT_EQ(runs->items[1].Get(key)->kind, Json::Number) << key;
    }
    const Json &second = runs->items[1];
    EXPECT_EQ(second.Get("pool")->number, 2);
    EXPECT_DOUBLE_EQ(second.Get("min")->number, 0.4);
    EXPECT_DOUBLE_EQ(second.Get("median")->number, 0.5);
    EXPECT_DOUBLE_EQ(second.Get("max")->number, 0.7);
    EXPECT_DOUBLE_EQ(second.Get("speedup")->number, 2.0);
    EXPECT_DOUBLE_EQ(second.Get("efficiency")->number, 1.0);
    EXPECT_DOUBLE_EQ(second.Get("rate")->number, 16.0);
    ASSERT_NE(j.Get("rate_unit"), nullptr);
    EXPECT_EQ(j.Get("rate_unit")->str, "GB/s");
}

TEST(ReportJson, FailedValidationCarriesTheDetail) {
    ReportPtr r = NewReport("p", PK_FORMAT_JSON);
    EXPECT_EQ(pk_report_validation(r.get(), 0, "sum 5, expected 6"), 0);
    Json j = ParseOrFail(Print(r.get()));
    ASSERT_NE(j.Get("validation"), nullptr);
    EXPECT_EQ(j.Get("validation")->str, "FAILED");
    ASSERT_NE(j.Get("validation_detail"), nullptr);
    EXPECT_EQ(j.Get("validation_detail")->str, "sum 5, expected 6");
    ASSERT_NE(j.Get("runs"), nullptr);
    EXPECT_EQ(j.Get("runs")->items.size(), 0u);
}

TEST(ReportJson, StringsAreEscaped) {
    const std::string nasty = "a \"quoted\" back\\slash\ttab\nnewline\x01 end";
    ReportPtr r = NewReport("we\"ird", PK_FORMAT_JSON);
    EXPECT_EQ(pk_report_param(r.get(), "backend", "%s", nasty.c_str()), 0);
    EXPECT_EQ(pk_report_param(r.get(), "key \"x\"", "%s", "v"), 0);
    EXPECT_EQ(pk_report_result_str(r.get(), "text", "%s", nasty.c_str()), 0);
    EXPECT_EQ(pk_report_note(r.get(), "%s", nasty.c_str()), 0);
    EXPECT_EQ(pk_report_validation(r.get(), 0, nasty.c_str()), 0);
    Json j = ParseOrFail(Print(r.get()));
    ASSERT_EQ(j.kind, Json::Object);
    EXPECT_EQ(j.Get("program")->str, "we\"ird");
    EXPECT_EQ(j.Get("backend")->str, nasty);
    EXPECT_EQ(j.Get("result")->Get("text")->str, nasty);
    EXPECT_EQ(j.Get("validation_detail")->str, nasty);
    ASSERT_NE(j.Get("params")->Get("key \"x\""), nullptr);
    ASSERT_EQ(j.Get("notes")->items.size(), 1u);
    EXPECT_EQ(j.Get("notes")->items[0].str, nasty);
}

// Found by fuzzing the JSON writer: number results that are not numbers and rows
// with NaN or infinite values made the object unreadable; now they are strings
// and nulls (parkit/report.h).
TEST(ReportJson, NonNumbersAndNonFiniteValuesStayJson) {
    ReportPtr r = NewReport("p", PK_FORMAT_JSON);
    EXPECT_EQ(pk_report_result_num(r.get(), "nan", "%s", "nan"), 0);
    EXPECT_EQ(pk_report_result_num(r.get(), "word", "%s", "many"), 0);
    EXPECT_EQ(pk_report_result_num(r.get(), "padded", "%s", " 42"), 0);
    EXPECT_EQ(pk_report_result_num(r.get(), "n", "%d", -17), 0);
    std::vector<pk_stats> rows(1);
    rows[0].ranks = rows[0].threads = rows[0].threads_got = rows[0].pool = rows[0].runs = 1;
    rows[0].min = NAN;
    rows[0].median = INFINITY;
    rows[0].max = -INFINITY;
    rows[0].speedup = 2;
    rows[0].efficiency = 0.5;
    rows[0].rate = NAN;
    EXPECT_EQ(pk_report_runs(r.get(), rows.data(), 1, "x/s"), 0);
    Json j = ParseOrFail(Print(r.get()));
    const Json *result = j.Get("result");
    ASSERT_NE(result, nullptr);
    EXPECT_EQ(result->Get("nan")->kind, Json::String);
    EXPECT_EQ(result->Get("nan")->str, "nan");
    EXPECT_EQ(result->Get("word")->str, "many");
    EXPECT_EQ(result->Get("padded")->str, " 42");
    EXPECT_EQ(result->Get("n")->kind, Json::Number);
    EXPECT_EQ(result->Get("n")->number, -17);
    ASSERT_EQ(j.Get("runs")->items.size(), 1u);
    const Json &row = j.Get("runs")->items[0];
    for (const char *key : {"min", "median", "max", "rate"}) {
        ASSERT_NE(row.Get(key), nullptr) << key;
        EXPECT_EQ(row.Get(key)->kind, Json::Null) << key;
    }
    EXPECT_EQ(row.Get("speedup")->number, 2);
    EXPECT_EQ(row.Get("efficiency")->number, 0.5);
}

// Also found by fuzzing: bytes that are not UTF-8 went out raw (invalid JSON).
// Each byte that does not start a UTF-8 sequence is now U+FFFD; UTF-8 stays.
TEST(ReportJson, BytesThatAreNotUtf8BecomeReplacementCharacters) {
    ReportPtr r = NewReport("p", PK_FORMAT_JSON);
    EXPECT_EQ(pk_report_param(r.get(), "backend", "%s", "h\xc3\xa9 \xff\xc3(\xe2\x82 \xed\xa0\x80"),
              0);
    std::string text = Print(r.get());
    EXPECT_NE(text.find("\"backend\": \"h\xc3\xa9 \\ufffd\\ufffd(\\ufffd\\ufffd "
                        "\\ufffd\\ufffd\\ufffd\""),
              std::string::npos)
        << text;
    EXPECT_EQ(text.find('\xff'), std::string::npos) << text;
}

TEST(Report, PrintErrors) {
    ReportPtr r = SampleReport(PK_FORMAT_TABLE);
    EXPECT_EQ(pk_report_print(nullptr, stdout), PK_EINVAL);
    EXPECT_EQ(pk_report_print(r.get(), nullptr), PK_EINVAL);
    // A stream that cannot be written (opened for reading): the write fails and the
    // printer says so.
    FILE *readonly = std::fopen("/dev/null", "r");
    ASSERT_NE(readonly, nullptr);
    EXPECT_EQ(pk_report_print(r.get(), readonly), PK_EIO);
    std::fclose(readonly);
}

TEST(Report, FreeNullIsAllowed) {
    pk_report_free(nullptr);
    ReportPtr r = NewReport("p", PK_FORMAT_TABLE);
    EXPECT_NE(r, nullptr);
}

// ---- the constructor and the capacities: nothing is dropped silently ----------------

TEST(ReportNew, BadArgumentsFailAndLeaveNull) {
    EXPECT_EQ(pk_report_new(nullptr, "p", PK_FORMAT_TABLE), PK_EINVAL);
    const std::string long_name(32, 'x');
    struct Case {
        const char *program;
        int format;
    } cases[] = {{nullptr, PK_FORMAT_TABLE}, {"p", 3}, {"p", -1}, {long_name.c_str(), 0}};
    for (const Case &c : cases) {
        pk_report *r = nullptr;
        ASSERT_EQ(pk_report_new(&r, "p", PK_FORMAT_TABLE), 0);
        ReportPtr earlier(r); // *r is overwritten with NULL on failure, not left as it was
        EXPECT_EQ(pk_report_new(&r, c.program, c.format), PK_EINVAL) << c.format;
        EXPECT_EQ(r, nullptr);
    }
    pk_report *r = nullptr;
    EXPECT_EQ(pk_report_new(&r, std::string(31, 'x').c_str(), PK_FORMAT_JSON), 0);
    pk_report_free(r);
}

TEST(ReportCapacity, ParamsPastTheCapAreRefused) {
    ReportPtr r = NewReport("p", PK_FORMAT_TABLE);
    for (int i = 0; i < PK_REPORT_MAX_ITEMS; i++)
        ASSERT_EQ(pk_report_param(r.get(), ("k" + std::to_string(i)).c_str(), "%d", i), 0) << i;
    EXPECT_EQ(pk_report_param(r.get(), "one too many", "%d", 1), PK_ERANGE);
    std::string text = Print(r.get());
    EXPECT_NE(text.find("k47"), std::string::npos);
    EXPECT_EQ(text.find("one too many"), std::string::npos);
}

TEST(ReportCapacity, ResultsOfBothKindsShareTheCap) {
    ReportPtr r = NewReport("p", PK_FORMAT_TABLE);
    for (int i = 0; i < PK_REPORT_MAX_ITEMS; i++) {
        std::string key = "r" + std::to_string(i);
        int rc = i % 2 ? pk_report_result_num(r.get(), key.c_str(), "%d", i)
                       : pk_report_result_str(r.get(), key.c_str(), "%d", i);
        ASSERT_EQ(rc, 0) << i;
    }
    EXPECT_EQ(pk_report_result_num(r.get(), "num", "%d", 1), PK_ERANGE);
    EXPECT_EQ(pk_report_result_str(r.get(), "str", "%s", "x"), PK_ERANGE);
}

TEST(ReportCapacity, NotesPastTheCapAreRefused) {
    ReportPtr r = NewReport("p", PK_FORMAT_TABLE);
    for (int i = 0; i < PK_REPORT_MAX_NOTES; i++)
        ASSERT_EQ(pk_report_note(r.get(), "note %d", i), 0) << i;
    EXPECT_EQ(pk_report_note(r.get(), "note %d", PK_REPORT_MAX_NOTES), PK_ERANGE);
    std::string text = Print(r.get());
    EXPECT_NE(text.find("Note: note 7\n"), std::string::npos);
    EXPECT_EQ(text.find("note 8"), std::string::npos);
}

TEST(ReportCapacity, AValueThatDoesNotFitIsReported) {
    ReportPtr r = NewReport("p", PK_FORMAT_JSON);
    const std::string fits(PK_REPORT_VALUE_LEN - 1, '7'), too_long(PK_REPORT_VALUE_LEN, '8');
    EXPECT_EQ(pk_report_result_str(r.get(), "fits", "%s", fits.c_str()), 0);
    EXPECT_EQ(pk_report_result_str(r.get(), "cut", "%s", too_long.c_str()), PK_ERANGE);
    EXPECT_EQ(pk_report_param(r.get(), "cut", "%s", too_long.c_str()), PK_ERANGE);
    EXPECT_EQ(pk_report_note(r.get(), "%s", too_long.c_str()), PK_ERANGE);
    EXPECT_EQ(pk_report_validation(r.get(), 0, too_long.c_str()), PK_ERANGE);
    EXPECT_EQ(pk_report_validation(r.get(), 0, fits.c_str()), 0);
    const std::string long_key(PK_REPORT_KEY_LEN, 'k');
    EXPECT_EQ(pk_report_param(r.get(), long_key.c_str(), "%d", 1), PK_ERANGE);
    std::string text = Print(r.get()); // the reader keeps a reference to it
    Json j;
    JsonReader reader(text);
    ASSERT_TRUE(reader.Parse(&j)) << reader.Error();
    EXPECT_EQ(j.Get("result")->Get("fits")->str, fits);
}

TEST(ReportCapacity, RunsCheckTheirArguments) {
    ReportPtr r = NewReport("p", PK_FORMAT_TABLE);
    pk_stats row = Row(1, 1, 1, 1.0, 1.0, 1.0);
    EXPECT_EQ(pk_report_runs(r.get(), &row, -1, "GB/s"), PK_EINVAL);
    EXPECT_EQ(pk_report_runs(r.get(), nullptr, 1, "GB/s"), PK_EINVAL);
    EXPECT_EQ(pk_report_runs(r.get(), &row, 1, std::string(24, 'u').c_str()), PK_ERANGE);
    EXPECT_EQ(pk_report_runs(r.get(), &row, 1, "GB/s"), 0);
    EXPECT_EQ(pk_report_runs(r.get(), nullptr, 0, nullptr), 0);
}

// ---- statistics --------------------------------------------------------------------

TEST(Stats, ComputeOddAndEvenCounts) {
    std::vector<double> odd{3.0, 1.0, 2.0, 9.0, 5.0};
    pk_stats s{};
    ASSERT_EQ(pk_stats_compute(odd.data(), 5, &s), 0);
    EXPECT_EQ(s.runs, 5);
    EXPECT_EQ(s.min, 1.0);
    EXPECT_EQ(s.median, 3.0);
    EXPECT_EQ(s.max, 9.0);
    EXPECT_DOUBLE_EQ(s.mean, 4.0);
    EXPECT_EQ(odd, (std::vector<double>{1, 2, 3, 5, 9})) << "sorted in place";

    std::vector<double> even{4.0, 1.0, 3.0, 10.0};
    ASSERT_EQ(pk_stats_compute(even.data(), 4, &s), 0);
    EXPECT_EQ(s.median, 3.5);
    EXPECT_DOUBLE_EQ(s.mean, 4.5);

    double one = 0.25;
    ASSERT_EQ(pk_stats_compute(&one, 1, &s), 0);
    EXPECT_EQ(s.min, 0.25);
    EXPECT_EQ(s.median, 0.25);
    EXPECT_EQ(s.max, 0.25);
}

TEST(Stats, ComputeRejectsBadArguments) {
    double x = 1;
    pk_stats s{};
    EXPECT_EQ(pk_stats_compute(&x, 0, &s), PK_EINVAL);
    EXPECT_EQ(pk_stats_compute(nullptr, 1, &s), PK_EINVAL);
    EXPECT_EQ(pk_stats_compute(&x, 1, nullptr), PK_EINVAL);
}

TEST(Stats, RelativeToTheFirstRow) {
    std::vector<pk_stats> rows{Row(1, 1, 1, 0, 4.0, 0), Row(1, 2, 2, 0, 2.5, 0),
                               Row(1, 4, 4, 0, 1.0, 0), Row(1, 8, 8, 0, 0.0, 0)};
    pk_stats_relative(rows.data(), 4, 100.0);
    EXPECT_DOUBLE_EQ(rows[0].speedup, 1.0);
    EXPECT_DOUBLE_EQ(rows[0].efficiency, 1.0);
    EXPECT_DOUBLE_EQ(rows[0].rate, 25.0);
    EXPECT_DOUBLE_EQ(rows[1].speedup, 1.6);
    EXPECT_DOUBLE_EQ(rows[1].efficiency, 0.8);
    EXPECT_DOUBLE_EQ(rows[1].rate, 40.0);
    EXPECT_DOUBLE_EQ(rows[2].speedup, 4.0);
    EXPECT_DOUBLE_EQ(rows[2].efficiency, 1.0);
    // A zero median (a run too short for the clock) gives zeros, not infinities.
    EXPECT_EQ(rows[3].speedup, 0.0);
    EXPECT_EQ(rows[3].rate, 0.0);
    EXPECT_FALSE(std::isinf(rows[3].efficiency));
}

TEST(Stats, EfficiencyIsRelativeToTheFirstPool) {
    // A sweep that starts at 2 threads: 4 threads at twice the speed is 100%.
    std::vector<pk_stats> rows{Row(1, 2, 2, 0, 2.0, 0), Row(1, 4, 4, 0, 1.0, 0)};
    pk_stats_relative(rows.data(), 2, 1.0);
    EXPECT_DOUBLE_EQ(rows[1].speedup, 2.0);
    EXPECT_DOUBLE_EQ(rows[1].efficiency, 1.0);
}

TEST(Timing, ClockIsMonotonicWithAResolution) {
    double a = pk_time_now();
    double b = pk_time_now();
    EXPECT_GE(b, a);
    EXPECT_GT(pk_time_resolution(), 0.0);
    EXPECT_LT(pk_time_resolution(), 0.1);
}

// ---- the sweep driver with a fake kernel ---------------------------------------------

void SleepSeconds(double s) {
    timespec ts{static_cast<time_t>(s), static_cast<long>((s - std::floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

int FailingBody(void *, int64_t, int64_t, pk_worker *w) {
    return pk_fail(w, PK_ECALLBACK, "fake kernel failed");
}

struct FakeKernel {
    int calls = 0;
    int fail_at = -1;        // the call (0-based) that fails, -1 none
    int warmup_per_size = 0; // to tell warm-up calls from timed ones
    int per_size = 1;        // warmup + repeat
    double timed_sleep = 0;  // seconds a timed run takes
    std::vector<int> threads_seen;
};

int FakeRun(pk_ctx *ctx, void *arg) {
    FakeKernel *k = static_cast<FakeKernel *>(arg);
    int call = k->calls++;
    k->threads_seen.push_back(pk_ctx_threads(ctx));
    if (call == k->fail_at) {
        pk_opts o{};
        o.label = "fake";
        return pk_for(ctx, 1, &o, FailingBody, nullptr);
    }
    bool warmup = call % k->per_size < k->warmup_per_size;
    if (!warmup && k->timed_sleep > 0)
        SleepSeconds(k->timed_sleep);
    return 0;
}

class Sweep : public PoolTest {};

TEST_P(Sweep, CallsWarmupPlusRepeatPerSizeAndFillsOneRowPerSize) {
    const int threads[] = {1, 2, 3};
    pk_sweep sw{};
    sw.threads = threads;
    sw.nthreads = 3;
    sw.repeat = 3;
    sw.warmup = 2;
    sw.work = 10.0;
    FakeKernel k;
    k.warmup_per_size = 2;
    k.per_size = 5;
    k.timed_sleep = 0.002;
    ASSERT_EQ(pk_ctx_set_threads(ctx(), 0), 0);
    int before = pk_ctx_threads(ctx());
    std::vector<pk_stats> rows(4);
    rows[3].runs = -42; // must stay untouched
    ASSERT_EQ(pk_sweep_run(ctx(), &sw, FakeRun, &k, rows.data()), 0) << ErrorString();
    EXPECT_EQ(k.calls, 3 * 5);
    bool threaded = GetParam().backend != "serial";
    for (int t = 0; t < 3; t++) {
        SCOPED_TRACE(t);
        const pk_stats &row = rows[static_cast<size_t>(t)];
        int want = threaded ? threads[t] : 1;
        for (int c = 0; c < 5; c++)
            EXPECT_EQ(k.threads_seen[static_cast<size_t>(t * 5 + c)], want);
        EXPECT_EQ(row.ranks, 1);
        EXPECT_EQ(row.threads, want);
        EXPECT_EQ(row.threads_got, want);
        EXPECT_EQ(row.pool, want);
        EXPECT_EQ(row.runs, 3);
        // Warm-up runs are instant and timed runs sleep 2 ms: a minimum below
        // that would mean a warm-up run was counted.
        EXPECT_GE(row.min, 0.0019);
        EXPECT_LE(row.min, row.median);
        EXPECT_LE(row.median, row.max);
        EXPECT_DOUBLE_EQ(row.rate, 10.0 / row.median);
    }
    EXPECT_DOUBLE_EQ(rows[0].speedup, 1.0);
    EXPECT_EQ(rows[3].runs, -42);
    EXPECT_EQ(pk_ctx_threads(ctx()), before) << "the sweep restores the thread setting";
}

TEST_P(Sweep, DefaultsToTheContextsThreads) {
    pk_sweep sw{};
    sw.repeat = 2;
    sw.warmup = 0;
    FakeKernel k;
    k.per_size = 2;
    pk_stats row{};
    ASSERT_EQ(pk_sweep_run(ctx(), &sw, FakeRun, &k, &row), 0);
    EXPECT_EQ(k.calls, 2);
    EXPECT_EQ(row.threads, GetParam().threads);
    EXPECT_EQ(row.runs, 2);
}

TEST_P(Sweep, StopsAtTheFirstErrorAndReturnsIt) {
    const int threads[] = {1, 2, 3};
    pk_sweep sw{};
    sw.threads = threads;
    sw.nthreads = 3;
    sw.repeat = 2;
    sw.warmup = 1;
    FakeKernel k;
    k.per_size = 3;
    k.fail_at = 4; // the second size's second call
    std::vector<pk_stats> rows(3);
    rows[2].runs = -7;
    EXPECT_EQ(pk_sweep_run(ctx(), &sw, FakeRun, &k, rows.data()), PK_ECALLBACK);
    EXPECT_EQ(k.calls, 5) << "no call after the failing one";
    EXPECT_EQ(pk_ctx_error(ctx())->code, PK_ECALLBACK);
    EXPECT_STREQ(pk_ctx_error(ctx())->message, "fake kernel failed");
    EXPECT_STREQ(pk_ctx_error(ctx())->kernel, "fake");
    EXPECT_EQ(rows[2].runs, -7) << "the size after the failure is never run";
    EXPECT_EQ(rows[0].runs, 2);
}

TEST_P(Sweep, FailingWarmupIsAnErrorToo) {
    pk_sweep sw{};
    sw.repeat = 3;
    sw.warmup = 1;
    FakeKernel k;
    k.per_size = 4;
    k.fail_at = 0;
    pk_stats row{};
    EXPECT_EQ(pk_sweep_run(ctx(), &sw, FakeRun, &k, &row), PK_ECALLBACK);
    EXPECT_EQ(k.calls, 1);
}

TEST_P(Sweep, BadArguments) {
    FakeKernel k;
    pk_stats row{};
    pk_sweep sw{};
    sw.repeat = 1;
    EXPECT_EQ(pk_sweep_run(nullptr, &sw, FakeRun, &k, &row), PK_EINVAL);
    EXPECT_EQ(pk_sweep_run(ctx(), nullptr, FakeRun, &k, &row), PK_EINVAL);
    EXPECT_EQ(pk_sweep_run(ctx(), &sw, nullptr, &k, &row), PK_EINVAL);
    EXPECT_EQ(pk_sweep_run(ctx(), &sw, FakeRun, &k, nullptr), PK_EINVAL);
    sw.repeat = 0;
    EXPECT_EQ(pk_sweep_run(ctx(), &sw, FakeRun, &k, &row), PK_EINVAL);
    sw.repeat = 1;
    sw.warmup = -1;
    EXPECT_EQ(pk_sweep_run(ctx(), &sw, FakeRun, &k, &row), PK_EINVAL);
    sw.warmup = 0;
    const int two[] = {2};
    sw.ranks = two;
    sw.nranks = 1;
    EXPECT_EQ(pk_sweep_run(ctx(), &sw, FakeRun, &k, &row), PK_EINVAL);
    EXPECT_NE(std::string(pk_ctx_error(ctx())->message).find("2 ranks"), std::string::npos)
        << pk_ctx_error(ctx())->message;
    EXPECT_EQ(k.calls, 0);
    const int one[] = {1};
    sw.ranks = one;
    EXPECT_EQ(pk_sweep_run(ctx(), &sw, FakeRun, &k, &row), 0) << "1 rank is this process";
    EXPECT_EQ(k.calls, 1);
}

INSTANTIATE_TEST_SUITE_P(Pools, Sweep, testing::ValuesIn(AllPools()), PoolName);

} // namespace
