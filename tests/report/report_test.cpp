// Tests of the report writers: CSV round trip through a real parser (Python's
// csv + float, as pandas would read it), JSON nulls for non-finite numbers,
// gnuplot figures (PNG signature, SVG root), self-contained HTML, terminal
// alignment, and atomicity (nothing left behind on an error).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>

#include "report/csv.h"
#include "report/figure.h"
#include "report/html.h"
#include "report/json_io.h"
#include "report/terminal.h"
#include "support/test_support.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace sg::report {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

Table sample_table() {
  Table t({"model", "layers", "gain", "note"});
  t.add_row({cell("pythia-1.4b"), cell(24), cell(0.1 + 0.2), cell("a, \"quoted\" note")});
  t.add_row({cell("pythia-6.9b"), cell(32), cell(kNaN), cell("")});
  t.add_row({cell("x"), Cell{}, cell(-kInf), cell(" padded ")});
  return t;
}

TEST(Csv, FormatsNumbersShortestAndQuotesText) {
  EXPECT_EQ(to_csv(sample_table()),
            "model,layers,gain,note\n"
            "pythia-1.4b,24,0.30000000000000004,\"a, \"\"quoted\"\" note\"\n"
            "pythia-6.9b,32,,\"\"\n"
            "x,,-inf,\" padded \"\n");
}

TEST(Csv, RoundTripsDoublesExactly) {
  auto dir = test::scratch_dir("csv");
  Table t({"x"});
  std::vector<double> values = {0.1 + 0.2, 1e-300, 6.02214076e23, -3.604, 1.0 / 3.0};
  for (double v : values) t.add_row({cell(v)});
  write_csv(dir / "t.csv", t);
  // Parse it back independently of our writer: strtod of each field.
  std::string text = read_file(dir / "t.csv");
  size_t pos = text.find('\n') + 1;
  for (double v : values) {
    size_t end = text.find('\n', pos);
    double back = std::strtod(text.substr(pos, end - pos).c_str(), nullptr);
    EXPECT_EQ(back, v);
    pos = end + 1;
  }
}

// pandas.read_csv follows the same RFC 4180 dialect as Python's csv module
// (pandas itself is not a Debian dependency of the project).
TEST(Csv, PythonReadsItBack) {
  if (std::system("/usr/bin/python3 -c pass >/dev/null 2>&1") != 0) GTEST_SKIP() << "no python3";
  auto dir = test::scratch_dir("csv_python");
  write_csv(dir / "t.csv", sample_table());
  auto r = test::run_command("/usr/bin/python3 -c \"import csv; rows = list(csv.reader(open('" +
                             (dir / "t.csv").string() +
                             "'))); print(repr(float(rows[1][2])), repr(rows[1][3]), repr(rows[2][2]), "
                             "repr(rows[3][3]), float(rows[3][2]))\"");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "0.30000000000000004 'a, \"quoted\" note' '' ' padded ' -inf\n");
}

TEST(Table, RejectsARowOfTheWrongWidth) {
  Table t({"a", "b"});
  EXPECT_THROW(t.add_row({cell(1)}), Error);
}

TEST(Json, NonFiniteNumbersBecomeNull) {
  nlohmann::json j = {{"nan", kNaN}, {"inf", kInf}, {"x", 0.1 + 0.2}, {"b", {1, 2}}};
  EXPECT_EQ(dump_json(j),
            "{\n  \"b\": [\n    1,\n    2\n  ],\n  \"inf\": null,\n  \"nan\": null,\n"
            "  \"x\": 0.30000000000000004\n}\n");
}

TEST(Json, ParseErrorNamesTheFile) {
  auto dir = test::scratch_dir("json");
  write_file_atomic(dir / "bad.json", "{\"a\": 1,\n  oops}");
  try {
    read_json(dir / "bad.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("bad.json: invalid JSON"), std::string::npos) << msg;
    EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  write_json(dir / "ok.json", {{"a", 1}});
  EXPECT_EQ(read_json(dir / "ok.json")["a"], 1);
}

TEST(Json, Sha256OfAFile) {
  auto dir = test::scratch_dir("sha");
  write_file_atomic(dir / "abc", "abc");
  EXPECT_EQ(sha256_file(dir / "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_THROW(sha256_file(dir / "missing"), Error);
}

TEST(Json, ProvenanceBlock) {
  ::setenv("SOURCE_DATE_EPOCH", "86400", 1);
  auto p = provenance({{"inputs", {"a.json"}}, {"tool", "overridden"}});
  ::unsetenv("SOURCE_DATE_EPOCH");
  EXPECT_EQ(p["created_utc"], "1970-01-02T00:00:00Z");
  EXPECT_EQ(p["tool"], "overridden");
  EXPECT_EQ(p["inputs"][0], "a.json");
  EXPECT_FALSE(p["version"].get<std::string>().empty());
  EXPECT_NE(p["command_line"].get<std::string>().find("test_report"), std::string::npos);
  EXPECT_THROW(provenance(nlohmann::json::array()), Error);
}

TEST(Terminal, AlignsNumbersRightAndTextLeft) {
  Table t({"metric", "a", "b"});
  t.add_row({cell("layers"), cell(24), cell(32)});
  t.add_row({cell("MLP min gain"), cell(0.26123), cell(kNaN)});
  std::string s = format_text_table(t, 3);
  EXPECT_EQ(s,
            "metric            a   b\n"
            "-----------------------\n"
            "layers           24  32\n"
            "MLP min gain  0.261   -\n");
}

Figure sample_figure() {
  Figure f;
  f.title = "It's a test: gain_1";
  f.columns = 2;
  Panel a;
  a.title = "lines";
  a.x_label = "l/(L-1)";
  a.y_label = "gain";
  a.log_y = true;
  a.lines.push_back({"model A", {0, 0.5, 1}, {0.5, 0.25, 3.6}, LineStyle::LinesPoints});
  a.lines.push_back({"model B", {0, 0.5, 1}, {1.0, kNaN, -1.0}, LineStyle::Dashed});
  a.hlines.push_back({1.0, "gain = 1"});
  Panel b;
  b.title = "bars";
  b.bars.push_back({"combined", {0, 1, 2}, {0.5, 1.2, 0.9}});
  b.bars.push_back({"other", {0, 1, 2}, {0.4, 1.1, 1.3}});
  Panel empty;
  empty.title = "nothing to draw";
  empty.lines.push_back({"all NaN", {0}, {kNaN}, LineStyle::Points});
  f.panels = {a, b, empty};
  return f;
}

TEST(Figure, RendersPngAndSvg) {
  auto dir = test::scratch_dir("fig");
  Figure f = sample_figure();
  f.render(dir / "f.png", dir / "f.svg");
  std::string png = read_file(dir / "f.png");
  ASSERT_GE(png.size(), 8u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  std::string svg = read_file(dir / "f.svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("model A"), std::string::npos);
  // Deterministic: drawing again gives the same bytes.
  f.render(dir / "g.png", dir / "g.svg");
  EXPECT_EQ(read_file(dir / "g.png"), png);
  EXPECT_EQ(read_file(dir / "g.svg"), svg);
}

TEST(Figure, ScriptLeavesOutUndrawablePoints) {
  std::string s = sample_figure().script("set terminal dumb");
  EXPECT_NE(s.find("'It''s a test: gain_1'"), std::string::npos);
  EXPECT_EQ(s.find("nan"), std::string::npos);  // NaN and the negative log-y point are dropped
  EXPECT_EQ(s.find("-1\n"), std::string::npos);
  EXPECT_NE(s.find("no data"), std::string::npos);
}

// The lines of `script` that start with `prefix`, in order.
std::vector<std::string> lines_starting(const std::string& script, const std::string& prefix) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < script.size()) {
    size_t end = script.find('\n', pos);
    if (end == std::string::npos) end = script.size();
    if (script.compare(pos, prefix.size(), prefix) == 0) out.push_back(script.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

Panel layer_panel(int n_layers, bool bars) {
  Panel p;
  p.title = "per layer";
  std::vector<double> x, y;
  for (int l = 0; l < n_layers; ++l) x.push_back(l), y.push_back(0.5 + 0.1 * l);
  if (bars) p.bars.push_back({"gain", x, y});
  else p.lines.push_back({"gain", x, y, LineStyle::LinesPoints});
  p.hlines.push_back({1.0, "gain = 1"});
  return p;
}

TEST(Figure, IntegerXValuesGetIntegerTicksOnly) {
  Figure f;
  f.panels = {layer_panel(5, false), layer_panel(5, true), layer_panel(32, false), layer_panel(1, true)};
  std::string s = f.script("set terminal dumb");
  auto xtics = lines_starting(s, "set xtics");
  auto xrange = lines_starting(s, "set xrange");
  ASSERT_EQ(xtics.size(), 4u) << s;
  ASSERT_EQ(xrange.size(), 4u) << s;
  // Five layers: a label at every layer, starting at 0 (not -0.5), the range
  // padded a little either side (bars: half a slot).
  EXPECT_EQ(xtics[0], "set xtics 0, 1");
  EXPECT_EQ(xrange[0], "set xrange [-0.2:4.2]");
  EXPECT_EQ(xtics[1], "set xtics 0, 1");
  EXPECT_EQ(xrange[1], "set xrange [-0.5:4.5]");
  // 32 layers: every 5th.
  EXPECT_EQ(xtics[2], "set xtics 0, 5");
  // One bar: still no fractional tick.
  EXPECT_EQ(xtics[3], "set xtics 0, 1");
  EXPECT_EQ(xrange[3], "set xrange [-0.5:0.5]");

  // States between layers (x = l, l + 1/2) keep integer labels too.
  Panel halves;
  halves.lines.push_back({"z", {0, 0.5, 1, 1.5, 2, 2.5, 3}, {1, 2, 3, 4, 5, 6, 7}, LineStyle::LinesPoints});
  // Fractional x (normalised depth) stays with gnuplot's own ticks.
  Panel depth;
  depth.lines.push_back({"d", {0, 0.25, 0.5, 0.75, 1}, {1, 2, 3, 4, 5}, LineStyle::LinesPoints});
  // An explicit range is kept.
  Panel fixed = layer_panel(5, false);
  fixed.x_min = -1;
  fixed.x_max = 10;
  f.panels = {halves, depth, fixed};
  s = f.script("set terminal dumb");
  xtics = lines_starting(s, "set xtics");
  xrange = lines_starting(s, "set xrange");
  ASSERT_EQ(xtics.size(), 2u) << s;
  EXPECT_EQ(xtics[0], "set xtics 0, 1");
  EXPECT_EQ(xrange[1], "set xrange [*:*]");
  EXPECT_EQ(xtics[1], "set xtics 0, 2");
  EXPECT_EQ(xrange[2], "set xrange [-1:10]");
}

TEST(Figure, LogAxisLabelsDecadesReadably) {
  Figure f;
  Panel wide;
  wide.log_y = true;
  wide.lines.push_back({"cumulative", {0, 1, 2, 3, 4}, {0.05, 2.5e-3, 1.5e-4, 2e-5, 4e-6}, LineStyle::Lines});
  wide.hlines.push_back({1.0, ""});
  Panel narrow;
  narrow.log_y = true;
  narrow.lines.push_back({"gain", {0, 1, 2}, {0.3, 2.0, 8.0}, LineStyle::Lines});
  f.panels = {wide, narrow};
  std::string s = f.script("set terminal dumb");
  auto ytics = lines_starting(s, "set ytics");
  auto yrange = lines_starting(s, "set yrange");
  ASSERT_EQ(ytics.size(), 2u) << s;
  EXPECT_EQ(yrange[0], "set yrange [1e-6:1e0]");
  EXPECT_EQ(ytics[0],
            "set ytics ('1e-6' 1e-6, '1e-5' 1e-5, '1e-4' 1e-4, '1e-3' 1e-3, '1e-2' 1e-2, '1e-1' 1e-1, '1' 1e0)");
  EXPECT_EQ(yrange[1], "set yrange [1e-1:1e1]");
  EXPECT_EQ(ytics[1], "set ytics ('0.1' 1e-1, '0.2' 2e-1, '0.5' 5e-1, '1' 1e0, '2' 2e0, '5' 5e0, '10' 1e1)");
  // No fixed-point tick format anywhere.
  EXPECT_EQ(s.find("set format"), std::string::npos);
  EXPECT_EQ(s.find("0.0000"), std::string::npos);
}

TEST(Figure, LegendsSitBelowThePanelsAndGridWrapsAtTwoColumns) {
  Figure f;
  f.columns = 3;
  Panel unlabelled;
  unlabelled.lines.push_back({"", {0, 1}, {1, 2}, LineStyle::Lines});
  f.panels = {layer_panel(5, false), layer_panel(5, true), unlabelled};
  std::string s = f.script("set terminal dumb");
  EXPECT_EQ(f.grid_columns(), 2);
  EXPECT_EQ(f.grid_rows(), 2);
  EXPECT_NE(s.find("set multiplot layout 2,2 rowsfirst"), std::string::npos) << s;
  auto keys = lines_starting(s, "set key");
  ASSERT_EQ(keys.size(), 2u);
  for (const auto& k : keys) EXPECT_NE(k.find("set key bmargin center horizontal"), std::string::npos) << k;
  EXPECT_EQ(lines_starting(s, "unset key").size(), 1u);  // nothing to list
  f.max_columns = 3;
  EXPECT_EQ(f.grid_columns(), 3);
  EXPECT_NE(f.script("").find("set multiplot layout 1,3 rowsfirst"), std::string::npos);
}

TEST(Figure, SameFigureSameScript) {
  Figure f = sample_figure();
  f.panels.push_back(layer_panel(12, true));
  Figure copy = f;
  EXPECT_EQ(f.script("set terminal dumb"), copy.script("set terminal dumb"));
  EXPECT_EQ(f.script("set terminal dumb"), f.script("set terminal dumb"));
}

TEST(Figure, InconsistentSeriesIsAnError) {
  Figure f;
  Panel p;
  p.lines.push_back({"bad", {0, 1}, {1}, LineStyle::Lines});
  f.panels = {p};
  EXPECT_THROW(f.script(""), Error);
  EXPECT_THROW(Figure{}.script(""), Error);  // no panels
}

TEST(Figure, MissingGnuplotIsAClearErrorAndWritesNothing) {
  auto dir = test::scratch_dir("fig_missing");
  ::setenv("STREAMGAUGE_GNUPLOT", "/nonexistent/gnuplot", 1);
  try {
    sample_figure().render(dir / "f.png", dir / "f.svg");
    ::unsetenv("STREAMGAUGE_GNUPLOT");
    FAIL() << "no error";
  } catch (const Error& e) {
    ::unsetenv("STREAMGAUGE_GNUPLOT");
    EXPECT_NE(std::string(e.what()).find("gnuplot"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

TEST(Figure, GnuplotFailureReportsItsMessageAndWritesNothing) {
  auto dir = test::scratch_dir("fig_fail");
  Figure f = sample_figure();
  f.panels[0].x_min = 1;  // an empty x range makes gnuplot fail
  f.panels[0].x_max = 1;
  try {
    f.render(dir / "f.png", dir / "f.svg");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gnuplot failed"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

TEST(Html, SelfContainedWithEmbeddedFigures) {
  auto dir = test::scratch_dir("html");
  sample_figure().render(dir / "f.png", dir / "f.svg");
  Html page("A <test> report");
  page.warning("random weights: numbers mean nothing");
  page.paragraph("x < y & z");
  page.table(sample_table(), "Table 1");
  page.figure(dir / "f.svg", "svg figure");
  page.figure(dir / "f.png", "png figure");
  page.provenance({{"inputs", {"a.json"}}});
  page.write(dir / "report.html");
  std::string html = read_file(dir / "report.html");
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<title>A &lt;test&gt; report</title>"), std::string::npos);
  EXPECT_NE(html.find("class=\"warning\">random weights"), std::string::npos);
  EXPECT_NE(html.find("x &lt; y &amp; z"), std::string::npos);
  EXPECT_NE(html.find("data:image/svg+xml;base64,"), std::string::npos);
  EXPECT_NE(html.find("data:image/png;base64,iVBORw0KGgo"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\">0.3</td>"), std::string::npos);
  EXPECT_NE(html.find("Provenance"), std::string::npos);
  // No external resources of any kind.
  EXPECT_EQ(html.find("http"), std::string::npos);
  EXPECT_EQ(html.find("src=\"/"), std::string::npos);
  EXPECT_THROW(page.figure(dir / "report.html"), Error);
}

TEST(Html, Base64) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
}

}  // namespace
}  // namespace sg::report
