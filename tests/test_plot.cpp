// pk_plot_svg: the SVG is well formed (every tag closed, in order), has the
// three panels, one line per series in each (one per threads-per-rank value for
// a ranks x threads grid) and the ideal lines, puts every point inside its
// panel, escapes the title, and refuses what it cannot draw.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

#include "parkit/parkit.h"

namespace {

std::string Plot(const std::vector<pk_stats> &rows, const char *title, int *rc) {
    char *buf = nullptr;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    *rc = pk_plot_svg(f, title, rows.data(), static_cast<int>(rows.size()));
    fclose(f);
    std::string s(buf, len);
    free(buf);
    return s;
}

pk_stats Row(int ranks, int threads, double median) {
    pk_stats r = {};
    r.ranks = ranks;
    r.threads = threads;
    r.threads_got = threads;
    r.pool = ranks * threads;
    r.runs = 3;
    r.min = median * 0.9;
    r.median = median;
    r.max = median * 1.2;
    r.mean = median;
    return r;
}

std::vector<pk_stats> Relative(std::vector<pk_stats> rows) {
    pk_stats_relative(rows.data(), static_cast<int>(rows.size()), 1.0);
    return rows;
}

// Element names in document order, "/" + name for a closing tag; self-closing
// tags give both. Fails the test on a tag it cannot read.
std::vector<std::string> Tags(const std::string &svg) {
    std::vector<std::string> tags;
    std::regex tag(R"(<(/?)([a-zA-Z?][a-zA-Z0-9-]*)[^>]*?(/?)>)");
    for (auto it = std::sregex_iterator(svg.begin(), svg.end(), tag); it != std::sregex_iterator();
         ++it) {
        std::string name = (*it)[2];
        if (name[0] == '?')
            continue;
        if ((*it)[1] == "/") {
            tags.push_back("/" + name);
        } else {
            tags.push_back(name);
            if ((*it)[3] == "/")
                tags.push_back("/" + name);
        }
    }
    return tags;
}

bool Balanced(const std::string &svg) {
    std::vector<std::string> stack;
    for (const std::string &t : Tags(svg)) {
        if (t[0] != '/') {
            stack.push_back(t);
        } else {
            if (stack.empty() || "/" + stack.back() != t)
                return false;
            stack.pop_back();
        }
    }
    return stack.empty();
}

int Count(const std::string &s, const std::string &what) {
    int n = 0;
    for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1))
        n++;
    return n;
}

} // namespace

TEST(Plot, ThreadSweepHasThreePanelsOneLineEachAndTheIdeals) {
    int rc = -1;
    std::string svg =
        Plot(Relative({Row(1, 1, 4.0), Row(1, 2, 2.1), Row(1, 4, 1.2)}), "squares", &rc);
    ASSERT_EQ(rc, 0);
    EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
    EXPECT_TRUE(Balanced(svg)) << svg;
    EXPECT_EQ(Count(svg, "class=\"panel\""), 3);
    EXPECT_EQ(Count(svg, "class=\"series\""), 3); // one series, in each panel
    EXPECT_EQ(Count(svg, "class=\"ideal\""), 2);  // speedup and efficiency
    EXPECT_EQ(Count(svg, "<circle"), 9);
    EXPECT_NE(svg.find(">squares<"), std::string::npos);
    EXPECT_EQ(svg.find("thread/rank"), std::string::npos) << "no legend for one series";
}

TEST(Plot, GridDrawsOneLinePerThreadsPerRank) {
    int rc = -1;
    std::string svg =
        Plot(Relative({Row(1, 1, 4), Row(1, 2, 2), Row(2, 1, 2), Row(2, 2, 1.1)}), "grid", &rc);
    ASSERT_EQ(rc, 0);
    EXPECT_TRUE(Balanced(svg));
    EXPECT_EQ(Count(svg, "class=\"series\""), 6); // 2 series x 3 panels
    EXPECT_NE(svg.find("1 thread/rank"), std::string::npos);
    EXPECT_NE(svg.find("2 threads/rank"), std::string::npos);
}

TEST(Plot, EveryPointLiesInsideThePicture) {
    int rc = -1;
    // a wild row (a speedup far above the ideal, a NaN) must not leave the frame
    std::vector<pk_stats> rows = Relative({Row(1, 1, 1e-6), Row(1, 8, 1e-9), Row(1, 2, 5)});
    rows[2].max = std::nan("");
    std::string svg = Plot(rows, nullptr, &rc);
    ASSERT_EQ(rc, 0);
    std::regex num(R"((?:cx|cy|x1|y1|x2|y2)=\"(-?[0-9.]+)\")");
    int seen = 0;
    for (auto it = std::sregex_iterator(svg.begin(), svg.end(), num); it != std::sregex_iterator();
         ++it, ++seen) {
        double v = std::stod((*it)[1]);
        EXPECT_GE(v, 0);
        EXPECT_LE(v, 1020);
    }
    EXPECT_GT(seen, 10);
    EXPECT_EQ(svg.find("nan"), std::string::npos);
    EXPECT_EQ(svg.find("inf"), std::string::npos);
}

TEST(Plot, TitleIsEscaped) {
    int rc = -1;
    std::string svg = Plot(Relative({Row(1, 1, 1)}), "a<b & \"c\"", &rc);
    ASSERT_EQ(rc, 0);
    EXPECT_NE(svg.find("a&lt;b &amp; &quot;c&quot;"), std::string::npos);
    EXPECT_TRUE(Balanced(svg));
}

TEST(Plot, RefusesNothingToDraw) {
    pk_stats r = Row(1, 1, 1);
    EXPECT_EQ(pk_plot_svg(stdout, "x", &r, 0), PK_EINVAL);
    EXPECT_EQ(pk_plot_svg(stdout, "x", nullptr, 1), PK_EINVAL);
    EXPECT_EQ(pk_plot_svg(nullptr, "x", &r, 1), PK_EINVAL);
}
